#!/usr/bin/env bash
# Reproduce the shipped demo model from nothing: scenes, four Model Garden training runs, export,
# and a copy into instance_segmentation_ros/data/demo_model. About 2.5 h on 2 CPU cores.
#
#   training/reproduce.sh [WORK_DIR]        (default /tmp/demo_training; PYTHON = training venv)
#
# Run 1 trains from scratch at 256x256; runs 2-4 fine-tune at 320x320 (a 320x240 scene is then
# not shrunk), each from the last checkpoint of the run before, with a shorter cosine schedule.
# Every run writes WORK_DIR/runN/{model,export,eval_metrics.json,train.log}; runs 2-4 share
# run 1's data folder.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/tmp/demo_training}
PYTHON=${PYTHON:-/tmp/train_venv/bin/python}

fine_tune() {  # RUN FROM_RUN FROM_STEP STEPS LEARNING_RATE WARM_UP_RATE [--install]
  local run=$1 from=$2 from_step=$3 steps=$4 rate=$5 warm_up_rate=$6
  shift 6
  mkdir -p "$WORK/$run"
  ln -sfn "$WORK/run1/data" "$WORK/$run/data"
  nice -n 19 "$PYTHON" training/train.py --out "$WORK/$run" --steps "$steps" \
    --override 'task.model.input_size=[320,320,3]' \
    --override "task.init_checkpoint=$WORK/$from/model/ckpt-$from_step" \
    --override task.init_checkpoint_modules=all \
    --override "trainer.optimizer_config.learning_rate.cosine.initial_learning_rate=$rate" \
    --override trainer.optimizer_config.warmup.linear.warmup_steps=50 \
    --override "trainer.optimizer_config.warmup.linear.warmup_learning_rate=$warm_up_rate" "$@"
}

nice -n 19 "$PYTHON" training/train.py --out "$WORK/run1"   # 2000 steps, 256x256, from scratch
fine_tune run2 run1 2000 900 0.02 0.002
fine_tune run3 run2 900 2000 0.02 0.002
fine_tune run4 run3 2000 1500 0.01 0.001 --install
