"""Plain words for the data-set options the picker shows as free-text rows ("Flat", "Noise", ...):
what an empty field means and what a value changes, so nobody has to guess what "default" is.

The engine's loaders define the options and their defaults (engine/data/*); this table only explains
them. An option missing here still gets a generic sentence.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OptionHelp:
    #: what an empty field means, shown greyed in the field ("no: 1×8×8 images")
    empty: str
    #: one or two sentences for the tooltip
    explain: str


#: (data-set kind or "", option name) -> help; "" matches any kind
OPTION_HELP: dict[tuple[str, str], OptionHelp] = {
    ("digits", "flat"): OptionHelp(
        "false: 1×8×8 images",
        "false (empty): each digit is a 1×8×8 image, for convolutions. true: each digit is a flat vector of "
        "64 numbers, for a network that starts with a Dense layer (the Input shape is then 64)."),
    ("", "n_samples"): OptionHelp("the data set's usual count", "How many samples to generate."),
    ("", "noise"): OptionHelp("the data set's usual noise", "How much random noise to add to each sample "
                              "(0 gives clean samples)."),
    ("", "classes"): OptionHelp("3", "How many classes (spiral arms) to generate."),
    ("", "modes"): OptionHelp("8", "How many Gaussian blobs form the ring."),
    ("", "radius"): OptionHelp("2.0", "The radius of the ring of blobs."),
    ("", "std"): OptionHelp("0.1", "The spread of each blob."),
    ("", "seq_len"): OptionHelp("the data set's usual length", "How many steps (or tokens) each sequence has."),
    ("", "vocab_size"): OptionHelp("the data set's usual size", "How many different tokens there are."),
    ("", "stride"): OptionHelp("chosen from the text's length", "How far apart consecutive windows start."),
    ("", "target"): OptionHelp("asked for when the table has several columns", "The column to predict."),
    ("", "task"): OptionHelp("auto: guessed from the target", "classification, regression or auto."),
    ("", "delimiter"): OptionHelp("guessed from the file", "The character that separates the columns."),
    ("", "exclude"): OptionHelp("none", "Columns to leave out, as a list such as [id, name]."),
    ("", "max_categories"): OptionHelp("50", "Text columns with more different values than this are refused "
                                       "instead of being one-hot encoded."),
    ("", "x_key"): OptionHelp("x", "The array holding the inputs in the .npz file."),
    ("", "y_key"): OptionHelp("y", "The array holding the targets in the .npz file."),
    ("", "tokens"): OptionHelp("false: numbers", "true when the inputs are token ids (whole numbers) for an "
                               "Embedding."),
}


def option_help(kind: str, name: str) -> OptionHelp:
    """The help for option ``name`` of data-set ``kind`` (a generic sentence when none is written)."""
    found = OPTION_HELP.get((kind, name)) or OPTION_HELP.get(("", name))
    if found is not None:
        return found
    return OptionHelp("the data set's default", f"The data set's '{name}' option; leave it empty for its default.")


def tooltip(kind: str, name: str) -> str:
    help_ = option_help(kind, name)
    return (f"{help_.explain}\nEmpty: {help_.empty}. Numbers, true/false and lists like [28, 28] are "
            "understood.")
