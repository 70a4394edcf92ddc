"""The blocks DeepCanvas ships: encoders and decoders, generators and discriminators, a residual
block and a Transformer block, each an ordinary definition built from registry layers.

Dropping a built-in block adds its definition to the project once (later drops reuse it, so the
uses stay one definition that changes together) and the user can open and change it like any
other. The exposed params are the ones people tune per use (widths, latent size, output shape).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graph.blocks import BlockDefinition, BlockLibrary, Exposed
from graph.document import Network
from graph.errors import GraphError


@dataclass(frozen=True)
class BuiltinBlock:
    key: str
    title: str              # the definition's name in a project
    description: str
    #: (inner network, exposed as (inner node name, param, exposed name))
    make: Callable[[], tuple[Network, list[tuple[str, str, str]]]]


class _Inside:
    """A tiny chain writer for block insides (the NetworkBuilder needs a finished project)."""

    def __init__(self, name: str) -> None:
        self.net = Network(name)
        self.x = 0.0

    def node(self, type_id: str, *sources: str, name: str | None = None, port_names: tuple[str, ...] = (),
             **params: Any) -> str:
        node = self.net.add_node(type_id, params, name, (self.x, 0.0))
        self.x += 200.0
        ports = port_names or tuple(p.name for p in node.spec.inputs)
        for i, src in enumerate(sources):
            self.net.connect(src, node.id, "out", ports[0] if node.spec.is_merge else ports[i])
        return node.id

    def chain(self, source: str, *layers: tuple[str, dict[str, Any]] | str) -> str:
        for layer in layers:
            type_id, params = (layer, {}) if isinstance(layer, str) else layer
            name = params.pop("name", None) if isinstance(params, dict) else None
            source = self.node(type_id, source, name=name, **params)
        return source

    def finish(self, last: str) -> Network:
        self.node("Output", last, name="out")
        from graph.layout import apply_layout

        apply_layout(self.net)
        return self.net


def _mlp_encoder() -> tuple[Network, list[tuple[str, str, str]]]:
    b = _Inside("Encoder")
    x = b.node("Input", name="x", shape=(1, 8, 8))
    h = b.chain(x, ("Flatten", {"name": "flatten"}), ("Dense", {"units": 128, "name": "hidden_1"}), "ReLU",
                ("Dense", {"units": 64, "name": "hidden_2"}), "ReLU", ("Dense", {"units": 2, "name": "latent"}))
    return b.finish(h), [("hidden_1", "units", "hidden_1"), ("hidden_2", "units", "hidden_2"),
                         ("latent", "units", "latent")]


def _mlp_decoder() -> tuple[Network, list[tuple[str, str, str]]]:
    b = _Inside("Decoder")
    z = b.node("Input", name="z", shape=(2,))
    h = b.chain(z, ("Dense", {"units": 64, "name": "hidden_1"}), "ReLU", ("Dense", {"units": 128, "name": "hidden_2"}),
                "ReLU", ("Dense", {"units": 64, "name": "features"}), ("Reshape", {"shape": (1, 8, 8), "name": "shape"}))
    return b.finish(h), [("hidden_1", "units", "hidden_1"), ("hidden_2", "units", "hidden_2"),
                         ("features", "units", "out_features"), ("shape", "shape", "out_shape")]


def _conv_encoder() -> tuple[Network, list[tuple[str, str, str]]]:
    b = _Inside("Conv Encoder")
    x = b.node("Input", name="x", shape=(1, 8, 8))
    h = b.chain(x, ("Conv2d", {"filters": 16, "name": "conv_1"}), "ReLU", ("MaxPool2d", {}),
                ("Conv2d", {"filters": 32, "name": "conv_2"}), "ReLU", "Flatten",
                ("Dense", {"units": 16, "name": "latent"}))
    return b.finish(h), [("conv_1", "filters", "filters_1"), ("conv_2", "filters", "filters_2"),
                         ("latent", "units", "latent")]


def _conv_decoder() -> tuple[Network, list[tuple[str, str, str]]]:
    b = _Inside("Conv Decoder")
    z = b.node("Input", name="z", shape=(16,))
    h = b.chain(z, ("Dense", {"units": 32 * 4 * 4, "name": "project"}), ("Reshape", {"shape": (32, 4, 4)}), "ReLU",
                ("ConvTranspose2d", {"filters": 16, "name": "up"}), "ReLU",
                ("Conv2d", {"filters": 1, "name": "to_channels"}))
    return b.finish(h), [("up", "filters", "filters"), ("to_channels", "filters", "out_channels")]


def _mlp_generator() -> tuple[Network, list[tuple[str, str, str]]]:
    b = _Inside("Generator")
    z = b.node("Input", name="noise", shape=(8,))
    h = b.chain(z, ("Dense", {"units": 64, "name": "hidden_1"}), "ReLU",
                ("Dense", {"units": 64, "name": "hidden_2"}), "ReLU", ("Dense", {"units": 2, "name": "sample"}))
    return b.finish(h), [("hidden_1", "units", "hidden_1"), ("hidden_2", "units", "hidden_2"),
                         ("sample", "units", "out_features")]


def _mlp_discriminator() -> tuple[Network, list[tuple[str, str, str]]]:
    b = _Inside("Discriminator")
    x = b.node("Input", name="sample", shape=(2,))
    h = b.chain(x, "Flatten", ("Dense", {"units": 64, "name": "hidden_1"}), ("LeakyReLU", {"negative_slope": 0.2}),
                ("Dense", {"units": 64, "name": "hidden_2"}), ("LeakyReLU", {"negative_slope": 0.2}),
                ("Dense", {"units": 1, "name": "score"}))
    return b.finish(h), [("hidden_1", "units", "hidden_1"), ("hidden_2", "units", "hidden_2")]


def _dcgan_generator() -> tuple[Network, list[tuple[str, str, str]]]:
    b = _Inside("DCGAN Generator")
    z = b.node("Input", name="noise", shape=(16,))
    h = b.chain(z, ("Dense", {"units": 64 * 2 * 2, "name": "project"}), ("Reshape", {"shape": (64, 2, 2)}),
                ("BatchNorm2d", {}), "ReLU",
                ("ConvTranspose2d", {"filters": 32, "name": "up_1"}), ("BatchNorm2d", {}), "ReLU",
                ("ConvTranspose2d", {"filters": 16, "name": "up_2"}), ("BatchNorm2d", {}), "ReLU",
                ("Conv2d", {"filters": 1, "name": "to_image"}), "Tanh")
    return b.finish(h), [("up_1", "filters", "filters_1"), ("up_2", "filters", "filters_2"),
                         ("to_image", "filters", "out_channels")]


def _dcgan_discriminator() -> tuple[Network, list[tuple[str, str, str]]]:
    b = _Inside("DCGAN Discriminator")
    x = b.node("Input", name="image", shape=(1, 8, 8))
    h = b.chain(x, ("Conv2d", {"filters": 32, "kernel_size": (4, 4), "stride": (2, 2), "name": "down_1"}),
                ("LeakyReLU", {"negative_slope": 0.2}),
                ("Conv2d", {"filters": 64, "kernel_size": (4, 4), "stride": (2, 2), "name": "down_2"}),
                ("BatchNorm2d", {}), ("LeakyReLU", {"negative_slope": 0.2}), "Flatten",
                ("Dense", {"units": 1, "name": "score"}))
    return b.finish(h), [("down_1", "filters", "filters_1"), ("down_2", "filters", "filters_2")]


def _residual() -> tuple[Network, list[tuple[str, str, str]]]:
    b = _Inside("Residual")
    x = b.node("Input", name="x", shape=(16, 8, 8))
    h = b.chain(x, ("Conv2d", {"filters": 16, "name": "conv_1"}), ("BatchNorm2d", {}), "ReLU",
                ("Conv2d", {"filters": 16, "name": "conv_2"}), ("BatchNorm2d", {}))
    s = b.node("Add", x, h, name="skip")
    h = b.chain(s, "ReLU")
    return b.finish(h), [("conv_1", "filters", "width"), ("conv_2", "filters", "channels")]


def _transformer() -> tuple[Network, list[tuple[str, str, str]]]:
    b = _Inside("Transformer Block")
    x = b.node("Input", name="x", shape=(16, 32))
    a = b.node("MultiheadAttention", x, x, x, name="attention", num_heads=4)
    h = b.chain(b.node("Add", x, a, name="residual_1"), ("LayerNorm", {"name": "norm_1"}))
    f = b.chain(h, ("Dense", {"units": 64, "name": "feedforward"}), "ReLU", ("Dense", {"units": 32, "name": "model_dim"}),
                ("Dropout", {"p": 0.1, "name": "dropout"}))
    out = b.chain(b.node("Add", h, f, name="residual_2"), ("LayerNorm", {"name": "norm_2"}))
    return b.finish(out), [("attention", "num_heads", "heads"), ("feedforward", "units", "feedforward"),
                           ("model_dim", "units", "model_dim"), ("dropout", "p", "dropout")]


BUILTIN_BLOCKS: dict[str, BuiltinBlock] = {b.key: b for b in (
    BuiltinBlock("encoder", "Encoder", "MLP encoder: flattens its input and squeezes it through two hidden "
                 "layers to a small latent vector (set latent to 2 to plot the latent space).", _mlp_encoder),
    BuiltinBlock("decoder", "Decoder", "MLP decoder: widens a latent vector back to out_features values and "
                 "reshapes them to out_shape (match the encoder's input).", _mlp_decoder),
    BuiltinBlock("conv_encoder", "Conv Encoder", "Convolutional encoder: two conv layers and a pooling step, "
                 "then a dense layer to the latent vector.", _conv_encoder),
    BuiltinBlock("conv_decoder", "Conv Decoder", "Convolutional decoder: a dense projection to a 32×4×4 map, "
                 "a transposed convolution up to 8×8 and a conv to out_channels.", _conv_decoder),
    BuiltinBlock("generator", "Generator", "MLP generator: noise through two ReLU layers to a sample of "
                 "out_features values (2 for points in the plane).", _mlp_generator),
    BuiltinBlock("discriminator", "Discriminator", "MLP discriminator: a sample through two LeakyReLU layers to "
                 "one real/fake score (a logit).", _mlp_discriminator),
    BuiltinBlock("dcgan_generator", "DCGAN Generator", "DCGAN-style generator: noise projected to a 64×2×2 map, "
                 "two transposed convolutions with batch norm up to 8×8, tanh image out.", _dcgan_generator),
    BuiltinBlock("dcgan_discriminator", "DCGAN Discriminator", "DCGAN-style discriminator: strided convolutions "
                 "with LeakyReLU down to one real/fake score.", _dcgan_discriminator),
    BuiltinBlock("residual", "Residual", "Residual block: two 3×3 convolutions with batch norm and a skip "
                 "connection; channels must equal the input's channels.", _residual),
    BuiltinBlock("transformer", "Transformer Block", "Transformer encoder block: self-attention and a feed-forward "
                 "layer, each with a residual connection and layer norm; model_dim must equal the input's "
                 "feature size.", _transformer),
)}


def builtin_definition(key: str, name: str | None = None) -> BlockDefinition:
    try:
        block = BUILTIN_BLOCKS[key]
    except KeyError:
        raise GraphError(f"no built-in block {key!r}; available: {', '.join(BUILTIN_BLOCKS)}") from None
    net, exposed = block.make()
    return BlockDefinition(name or block.title, net,
                           [Exposed(net.find(node).id, param, as_name) for node, param, as_name in exposed],
                           block.description, origin=key)


def ensure_builtin(library: BlockLibrary, key: str) -> BlockDefinition:
    """The project's definition of a built-in block, added on first use."""
    existing = library.by_origin(key)
    if existing is not None:
        return existing
    title = BUILTIN_BLOCKS[key].title if key in BUILTIN_BLOCKS else key
    defn = builtin_definition(key, library.unique_name(title))
    return library.add(defn)
