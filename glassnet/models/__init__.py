"""The model zoo: ready architectures built only from `glassnet.nn` and the public Tensor API.

Each class cites the paper whose idea it shows: an MLP, LeNet-5, a small VGG-style CNN, a character RNN,
a GPT (decoder-only Transformer), GAN pairs (MLP and DCGAN-style) and an autoencoder.
"""

from glassnet.models.autoencoder import Autoencoder
from glassnet.models.bert import BertConfig, BertModel, SentenceEncoder
from glassnet.models.char_rnn import CharRNN
from glassnet.models.gan import GAN, DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from glassnet.models.gpt import GPT, CausalSelfAttention, GPTBlock
from glassnet.models.lenet import LeNet5
from glassnet.models.mlp import MLP
from glassnet.models.tinyvgg import TINYVGG_CLASSES, TinyVGG, load_tinyvgg, preprocess_image
from glassnet.models.vgg import SmallVGG

__all__ = [
    "BertConfig",
    "BertModel",
    "SentenceEncoder",
    "GAN",
    "GPT",
    "MLP",
    "Autoencoder",
    "CausalSelfAttention",
    "CharRNN",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "GPTBlock",
    "LeNet5",
    "MLPDiscriminator",
    "MLPGenerator",
    "SmallVGG",
    "TINYVGG_CLASSES",
    "TinyVGG",
    "load_tinyvgg",
    "preprocess_image",
]
