"""Semi-supervised fine-tuning: learn from the labelled subset *and* the unlabelled pool.

- :mod:`.losses`: the pure loss functions (FixMatch's thresholded pseudo-label CE, its per-pixel form).
- :mod:`.views`: weak/strong views of unlabelled images built from the recipe's Kornia ops.
- :mod:`.pool`: the unlabelled images and seeded batch sampling.
- :mod:`.fixmatch`: FixMatch for classification (the ``semisup`` evaluator of ``transfer/evaluators/``).
- :mod:`.mean_teacher`: mean teacher for segmentation (the segmentation ``semisup`` evaluator).

Both plug into the one fine-tuning loop (``transfer/finetune.py``) through the small :class:`Consistency`
protocol: an extra loss per optimiser step, a hook after each step, and the model to validate and keep.
"""

from .consistency import Consistency
from .fixmatch import FixMatch, FixMatchSettings
from .mean_teacher import MeanTeacher, MeanTeacherSettings
from .pool import UnlabeledPool

__all__ = ["Consistency", "FixMatch", "FixMatchSettings", "MeanTeacher", "MeanTeacherSettings", "UnlabeledPool"]
