"""Autoregressive family: PixelCNN, Gated PixelCNN, PixelCNN++ and PixelRNN (Row LSTM, Diagonal BiLSTM)."""

from zoo.pixel.gated_pixel_cnn import GatedPixelCNN
from zoo.pixel.masked import MaskedConv2D
from zoo.pixel.pixel_cnn import PixelCNN
from zoo.pixel.pixel_cnn_pp import PixelCNNPlusPlus
from zoo.pixel.pixel_rnn import DiagonalBiLSTM, RowLSTM

__all__ = ["DiagonalBiLSTM", "GatedPixelCNN", "MaskedConv2D", "PixelCNN", "PixelCNNPlusPlus", "RowLSTM"]
