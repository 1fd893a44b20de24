"""One training run: SGD schedule, mixed precision, checkpoint/resume, DDP.

``train(spec, data, schedule, out_dir=...)`` trains ``spec`` (adapted to the
data's channels, resolution and classes with ``for_input``) on
``netspace.data.load_data(...)`` and returns a :class:`TrainResult`. The CLI
``netspace train MODEL --data NAME --epochs E --out DIR`` is that one call.

Default schedule (:class:`Schedule`), chosen for small images and short runs:

==========================  =========  ====================================================
setting                     default    why
==========================  =========  ====================================================
optimizer                   SGD        momentum 0.9, Nesterov: the standard for conv nets
batch_size                  128        global over all DDP ranks; fits any small model
lr                          0.2        peak; high is fine with BN, warmup and smoothing,
                                       and short runs need to move fast
warmup_epochs               1          linear from 0.1 x lr: early BN statistics are noisy
schedule                    cosine     to 0, stepped every iteration (no epoch-edge jumps)
weight_decay                5e-4       CIFAR-scale standard; not on BN or biases
                                       (``decay_norm_and_bias=False``)
label_smoothing             0.1        better calibrated, slightly lower error
ema_decay                   0 (off)    weight EMA helps long runs; on short cosine runs
                                       the final weights are already averaged enough
zero_init_last_bn           True       every residual branch starts as an identity, so
                                       no sampled model blows up in a short schedule: 8
                                       AnyNetX_A models, 2 epochs on 6,000 Fashion-MNIST
                                       images, paired: without it 2 of 8 ended at 63% and
                                       84% error (26.8% and 27.5% with it), the other 6
                                       were 1.6-13.9 points better; medians 36.6% (on) vs
                                       29.1% (off), sign test p = 0.73. Its cost:
                                       ResNet-20, 2 epochs on 3,000 images, 42-47%
                                       with it, 23-28% without (3 seeds). One default in
                                       train, sweep, search and study (the paper preset
                                       turns it off, as the reference implementation does)
augment                     True       dataset policy: pad+random crop, flip if sensible
precision                   auto       the fastest correct path here, never an emulated
                                       dtype: bf16 autocast + channels_last on CPUs with
                                       native bf16 (AVX512-BF16/AMX) and on CUDA (fp16 +
                                       GradScaler on GPUs without bf16); fp32 +
                                       channels_last on other CPUs. With channels_last
                                       the CPU layers run the implementation the
                                       autotuner measured fastest
                                       (``netspace.models.tune``); "fp32" is the plain
                                       NCHW PyTorch path
eval_split                  test       "val" (needs val_fraction > 0) for search
seed                        0          same seed, same device => same weights
==========================  =========  ====================================================

Files in ``out_dir``: ``metrics.jsonl`` (one object per epoch: epoch,
train_loss, train_error, test_error or val_error (percent), lr, seconds,
images_per_second), ``checkpoint.pt`` (atomic; every epoch and on
SIGINT/SIGTERM, loadable with ``torch.load(weights_only=True)``) and
``result.json`` (status ``done`` or ``diverged``, final and best error,
epochs, wall_seconds, complexity, spec, schedule, data). Rerunning the same
call continues from the checkpoint, or reports a finished result; different
settings are refused naming the differing keys. A NaN/inf loss ends the run
as ``diverged`` with error 100.
"""

from netspace.data.config import DataConfig
from netspace.train.config import TrialConfig, trial_config
from netspace.train.loop import adapt_spec, train
from netspace.train.result import TrainResult
from netspace.train.schedule import Schedule, TrainError, lr_at
from netspace.train.trial import train_trial

__all__ = ["DataConfig", "Schedule", "TrainError", "TrainResult", "TrialConfig", "adapt_spec", "lr_at", "train",
           "train_trial", "trial_config"]
