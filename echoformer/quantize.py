"""Inference number formats of a loaded model: float32 as trained, or int8 for CPU inference.

int8 is dynamic quantisation of the linear layers (`torch.ao.quantization.quantize_dynamic`,
per-tensor int8 weights, activations quantised per call, float32 out): every `nn.Linear` of the
encoder and decoder, attention projections included (a reuse follower's value and output
projections as well as a leader's q/k/v), the feed-forward layers and a CTC head. The output
layer of an `OutputLayer` (full or SVD-softmax) stays float32: its weight is tied to the
embedding and read directly by `full_logits` and the SVD factors. Everything that is not a
linear layer (embeddings, norms, convolutions, attention's P·V) stays float32 too.

Dynamic int8 runs on CPU only; any other device is refused with one clear error.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from echoformer.output_layer import OutputLayer

DTYPES = ("float32", "int8")


def check_dtype(dtype: str, device: str | torch.device, flag: str = "--dtype") -> None:
    """Raise ValueError (naming `flag` and the fix) for an unknown dtype or int8 off the CPU."""
    if dtype not in DTYPES:
        raise ValueError(f"{flag} {dtype}: not one of {', '.join(DTYPES)}")
    if dtype == "int8" and torch.device(device).type != "cpu":
        raise ValueError(f"{flag} int8 is dynamic int8 quantisation for CPU inference; it does "
                         f"not run on {device}: use --device cpu, or {flag} float32 on {device}")


def quantizable_linears(model: nn.Module) -> list[str]:
    """Names of the `nn.Linear` modules that int8 quantises: all but an `OutputLayer`'s."""
    kept = {name for name, module in model.named_modules() if isinstance(module, OutputLayer)}
    return [name for name, module in model.named_modules()
            if isinstance(module, nn.Linear)
            and not any(name == k or name.startswith(k + ".") for k in kept)]


def quantize_for_inference(model: nn.Module, dtype: str, device: str | torch.device = "cpu",
                           flag: str = "--dtype") -> nn.Module:
    """`model` (in eval mode) in number format `dtype`: float32 unchanged; int8 with its
    linear layers (`quantizable_linears`) replaced in place by dynamic int8 ones. Returns the
    model. Inference only: a quantised model does not train."""
    check_dtype(dtype, device, flag)
    if dtype == "float32":
        return model
    quantize_dynamic = getattr(getattr(torch, "ao", None), "quantization", None)
    quantize_dynamic = getattr(quantize_dynamic, "quantize_dynamic", None)
    if quantize_dynamic is None:
        raise ValueError(f"{flag} int8: torch {torch.__version__} has no "
                         f"torch.ao.quantization.quantize_dynamic; use {flag} float32")
    names = quantizable_linears(model)
    if not names:
        return model
    qconfig = torch.ao.quantization.default_dynamic_qconfig
    model.eval()
    with warnings.catch_warnings():
        # torch.ao.quantization warns that it is deprecated (torchao's quantize_ replaces it
        # on GPU); on CPU its fbgemm/x86 kernels are still the fast dynamic int8 path
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        quantize_dynamic(model, {name: qconfig for name in names}, dtype=torch.qint8,
                         inplace=True)
    return model


def is_quantized(model: nn.Module) -> bool:
    """Whether `model` holds dynamic int8 linear layers."""
    from torch.ao.nn.quantized import dynamic

    return any(isinstance(m, dynamic.Linear) for m in model.modules())
