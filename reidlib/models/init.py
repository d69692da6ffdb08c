"""Weight initialisation shared by the networks trained from scratch."""

from __future__ import annotations

from torch import nn


def caffe_xavier_(module: nn.Module) -> None:
    """Caffe's default "xavier" filler on every conv and linear layer (uniform, variance 1 / fan_in),
    zero biases, and BN scales 1 and shifts 0: how the Caffe networks of MSCAN and JSTL/DGD,
    trained from scratch, were initialised."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_uniform_(m.weight, nonlinearity="linear")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
