"""Neural-network building blocks: Module and Parameter, containers, layers, losses, `init` and `functional`."""

from glassnet.nn import functional, init, parallel, utils
from glassnet.nn.activation import (  # noqa: I001 - the second round of PyTorch's activations
    CELU,
    ELU,
    GELU,
    GLU,
    SELU,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    ReLU,
    ReLU6,
    RReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softmin,
    Softplus,
    Softshrink,
    Softsign,
    Tanh,
    Tanhshrink,
    Threshold,
)
from glassnet.nn.attention import MultiheadAttention
from glassnet.nn.containers import ModuleDict, ModuleList, Sequential
from glassnet.nn.conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from glassnet.nn.dropout import Dropout, Dropout2d
from glassnet.nn.linear import Bilinear, Flatten, Identity, Linear, Unflatten
from glassnet.nn.loss import (  # noqa: I001
    BCELoss,
    BCEWithLogitsLoss,
    CosineSimilarity,
    CrossEntropyLoss,
    CTCLoss,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MarginRankingLoss,
    MSELoss,
    MultiLabelSoftMarginLoss,
    NLLLoss,
    PoissonNLLLoss,
    SmoothL1Loss,
    SoftMarginLoss,
    TripletMarginLoss,
)
from glassnet.nn.module import (
    Module,
    RemovableHandle,
    register_module_forward_hook,
    register_module_forward_pre_hook,
    register_module_full_backward_hook,
)
from glassnet.nn.normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from glassnet.nn.parameter import Parameter
from glassnet.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    LPPool1d,
    LPPool2d,
    LPPool3d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
)
from glassnet.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from glassnet.nn.sparse import Embedding, EmbeddingBag
from glassnet.nn.summary import summary
from glassnet.nn.sync_batchnorm import SyncBatchNorm
from glassnet.nn.transformer import (
    LearnedPositionalEmbedding,
    SinusoidalPositionalEncoding,
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from glassnet.nn.upsampling import (
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    MaxUnpool1d,
    MaxUnpool2d,
    MaxUnpool3d,
    PixelShuffle,
    PixelUnshuffle,
    Upsample,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
)
