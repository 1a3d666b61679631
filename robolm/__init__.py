"""RoboLM: a tiny from-scratch language model that writes MicroPython for ESP32 classroom robots.

The package is flat on purpose: each file is one idea a student can read alone.
  model.py      the transformer in PyTorch (training)
  kernels.py    the same arithmetic in NumPy, twin of csrc/kernels.c
  tokenizer.py  byte-level BPE
"""

__version__ = "0.1.0"
