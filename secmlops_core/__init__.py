"""SecMLOps Studio: security through the whole MLOps lifecycle."""

__version__ = "0.1.0"
