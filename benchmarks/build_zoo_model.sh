#!/usr/bin/env bash
# Build the TF2 zoo architecture mask_rcnn_inception_resnet_v2_1024x1024 with random weights
# (no download) and export it as the zoo does (SavedModel, image_tensor input), for
# benchmarks/precision.py --model. Run by hand only: about 5 minutes, ~270 MB, outside the
# repository. The model section of the config is the zoo's published
# mask_rcnn_inception_resnet_v2_1024x1024_coco17_gpu-8.config; the OD API package does not ship
# its configs.
# Usage: bash benchmarks/build_zoo_model.sh [WORK_DIR] [PYTHON]
#   gives WORK_DIR/irv2 (pipeline.config, checkpoint/, saved_model/); default /tmp/zoo_build
set -euo pipefail
work="${1:-/tmp/zoo_build}"
python="${2:-python3}"
venv="$work/venv"
mkdir -p "$work"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q tensorflow-cpu==2.15.1 protobuf==3.20.3 tf-slim
  # The OD API and Model Garden pin dependencies that clash with TF 2.15; only what their
  # imports need is added below.
  "$venv/bin/pip" install -q --no-deps tf-models-research-object-detection==2.8.0.post1 \
    tf-models-official==2.15.0 tensorflow-io==0.36.0
  "$venv/bin/pip" install -q scipy pyyaml pillow lxml contextlib2 gin-config matplotlib
fi

mkdir -p "$work/irv2"
cat > "$work/irv2/model.config" <<'EOF'
model {
  faster_rcnn {
    number_of_stages: 3
    num_classes: 90
    image_resizer { fixed_shape_resizer { height: 1024 width: 1024 } }
    feature_extractor { type: 'faster_rcnn_inception_resnet_v2_keras' }
    first_stage_anchor_generator {
      grid_anchor_generator {
        scales: [0.25, 0.5, 1.0, 2.0]
        aspect_ratios: [0.5, 1.0, 2.0]
        height_stride: 16
        width_stride: 16
      }
    }
    first_stage_box_predictor_conv_hyperparams {
      op: CONV
      regularizer { l2_regularizer { weight: 0.0 } }
      initializer { truncated_normal_initializer { stddev: 0.01 } }
    }
    first_stage_nms_score_threshold: 0.0
    first_stage_nms_iou_threshold: 0.7
    first_stage_max_proposals: 300
    first_stage_localization_loss_weight: 2.0
    first_stage_objectness_loss_weight: 1.0
    initial_crop_size: 17
    maxpool_kernel_size: 1
    maxpool_stride: 1
    second_stage_box_predictor {
      mask_rcnn_box_predictor {
        use_dropout: false
        dropout_keep_probability: 1.0
        fc_hyperparams {
          op: FC
          regularizer { l2_regularizer { weight: 0.0 } }
          initializer { variance_scaling_initializer { factor: 1.0 uniform: true mode: FAN_AVG } }
        }
        mask_height: 33
        mask_width: 33
        mask_prediction_conv_depth: 0
        mask_prediction_num_conv_layers: 4
        conv_hyperparams {
          op: CONV
          regularizer { l2_regularizer { weight: 0.0 } }
          initializer { truncated_normal_initializer { stddev: 0.01 } }
        }
        predict_instance_masks: true
      }
    }
    second_stage_post_processing {
      batch_non_max_suppression {
        score_threshold: 0.0
        iou_threshold: 0.6
        max_detections_per_class: 100
        max_total_detections: 100
      }
      score_converter: SOFTMAX
    }
    second_stage_localization_loss_weight: 2.0
    second_stage_classification_loss_weight: 1.0
    second_stage_mask_prediction_loss_weight: 4.0
    resize_masks: false
  }
}
EOF

"$venv/bin/python" - "$work/irv2" <<'EOF'
"""Build the model from its config, save its random init, export it as the zoo does."""
import sys

import tensorflow as tf
from object_detection import exporter_lib_v2
from object_detection.builders import model_builder
from object_detection.utils import config_util

folder = sys.argv[1]
configs = config_util.get_configs_from_pipeline_file(f'{folder}/model.config')
model = model_builder.build(configs['model'], is_training=False)
# One call creates the variables, so that the checkpoint holds them all.
images, shapes = model.preprocess(tf.zeros([1, 480, 640, 3], tf.float32))
model.postprocess(model.predict(images, shapes), shapes)
tf.train.Checkpoint(model=model).save(f'{folder}/random_init/ckpt')
exporter_lib_v2.export_inference_graph(
    'image_tensor', config_util.create_pipeline_proto_from_configs(configs),
    f'{folder}/random_init', folder)
print(f'exported: {folder}/saved_model')
EOF
