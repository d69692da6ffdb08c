"""Backbones and re-ID methods."""

from .inception_reid import InceptionReID, inception_reid
from .mscan import MSCANBody, mscan_body

__all__ = ["InceptionReID", "MSCANBody", "inception_reid", "mscan_body"]
