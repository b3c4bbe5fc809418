"""LIIF Upscale's engine: any-scale image upscaling with a Local Implicit Image Function.

Arrays in, arrays out; nothing here knows about image editors. The public API::

    import liif_core
    model = liif_core.load_model("default")
    big = liif_core.upscale(image, scale=3, model=model)
    cost = liif_core.work(image, scale=3, model=model)  # upscale's progress total, before it runs
    liif_core.forget()  # what work() kept for that upscale is not needed after all
"""

from liif_core.errors import Cancelled, InputError, LiifError, MemoryLimitError, ModelError
from liif_core.upscale import forget, output_size, upscale, work
from liif_core.weights import Model, list_models, load_model

__version__ = "0.1.0"

__all__ = ["Cancelled", "InputError", "LiifError", "MemoryLimitError", "Model", "ModelError", "__version__",
           "forget", "list_models", "load_model", "output_size", "upscale", "work"]
