"""Hand-written PyTorch models in the styles people write them, for the import-torch tests."""

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class LeNet(nn.Module):
    """LeNet-style CNN: functional activations and pooling, a view to flatten."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, classes)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class LSTMClassifier(nn.Module):
    """Embedding, a two-layer LSTM read through its final hidden state, dropout and a head."""

    def __init__(self, vocab: int = 30, classes: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 16)
        self.lstm = nn.LSTM(16, 24, num_layers=2, batch_first=True)
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(24, classes)

    def forward(self, tokens):
        _, (h, _) = self.lstm(self.embed(tokens))
        return self.head(self.drop(h[-1]))


class TinyTransformer(nn.Module):
    """A small Transformer encoder: scaled embeddings, a learned position table read directly,
    nn.TransformerEncoder and mean pooling."""

    def __init__(self, vocab: int = 20, d_model: int = 16, length: int = 12, classes: int = 3) -> None:
        super().__init__()
        self.d_model = d_model
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(torch.randn(1, length, d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(d_model, 4, 32, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, classes)

    def forward(self, tokens):
        x = self.embed(tokens) * math.sqrt(self.d_model) + self.pos
        x = self.norm(self.encoder(x))
        return self.head(x.mean(dim=1))


class OddOps(nn.Module):
    """Steps DeepCanvas has no layer for (a clamp, a LayerNorm over two dimensions) between ones it
    has (transposes)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 3, padding=1)
        self.norm = nn.LayerNorm([8, 6])
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        h = self.norm(self.conv(x))
        h = torch.clamp(h, min=-1.0, max=1.0)
        y = self.fc(h.transpose(1, 2)).transpose(1, 2)
        return torch.flatten(y, 1)


class DataDependent(nn.Module):
    """Cannot be traced: Python decides on a tensor value."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        if x.sum() > 0:
            return self.fc(x)
        return -self.fc(x)


class NumpyStep(nn.Module):
    """Neither torch.fx nor torch.export can record it: part of forward runs in numpy."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(torch.from_numpy(np.tanh(x.detach().numpy())))


class Unlisted(nn.Module):
    """Calls a torch function outside the imported ops' allow-list."""

    def forward(self, x):
        return torch.fft.rfft(x).abs()


def sample_inputs(batch_size: int = 2) -> list[torch.Tensor]:
    """For OddOps (the module's default model for import-torch without --input-shape)."""
    return [torch.randn(batch_size, 4, 6)]
