"""The folder command's progress: the rate counts the images segmented, not the files skipped."""

import io
import re
import time

from instance_segmentation_ros.cli.progress import Progress

SEGMENTING_S = 0.1  # the time one image takes here


class Terminal(io.StringIO):
    """A stream that says it is a terminal, so that Progress draws its tqdm bar."""

    def isatty(self):
        return True


def test_a_skipped_file_adds_nothing_to_the_rate():
    stream = io.StringIO()
    progress = Progress(3, stream=stream)
    progress.skip('a.png', 'skipped (empty file)')
    time.sleep(SEGMENTING_S)
    progress.step('b.png', '1 instance, 100 ms')
    progress.close()
    skipped, segmented = stream.getvalue().splitlines()
    assert skipped == '[1/3] a.png: skipped (empty file)'  # no rate before an image is done
    match = re.fullmatch(r'\[2/3\] b\.png: 1 instance, 100 ms \((\S+) img/s, ETA (\d+) s\)',
                         segmented)
    assert match, segmented
    # One image in at least SEGMENTING_S: counting the skipped file too would double it.
    assert 0 < float(match[1]) <= 1 / SEGMENTING_S


def test_the_bar_counts_the_images_that_can_be_segmented():
    stream = Terminal()
    progress = Progress(3, stream=stream)
    progress.skip('a.png', 'skipped (empty file)')
    progress.step('b.png', '1 instance')
    progress.step('c.png', '1 instance')
    progress.close()
    text = stream.getvalue()
    assert '2/2' in text and '100%' in text
