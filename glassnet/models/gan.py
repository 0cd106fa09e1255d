"""GAN pairs: MLP generator/discriminator for 2-D toy data, DCGAN-style ones for 1x28x28 images, and `GAN`."""

from __future__ import annotations

from glassnet import nn
from glassnet.autograd import no_grad
from glassnet.creation import ones_like, randn, zeros_like
from glassnet.models._utils import check_input
from glassnet.nn import functional as F
from glassnet.random import Generator
from glassnet.tensor import Tensor


class MLPGenerator(nn.Module):
    """z (batch, latent_dim) → points (batch, out_features): an MLP generator (Goodfellow et al. 2014).

    The idea it shows: a generator is a learned map pushing a simple noise distribution onto the data distribution.
    """

    def __init__(self, latent_dim: int = 2, hidden: int = 128, out_features: int = 2, num_layers: int = 3) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        layers: list[nn.Module] = []
        width = latent_dim
        for _ in range(num_layers - 1):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        """(batch, latent_dim) noise → (batch, out_features) samples."""
        check_input(z, "MLPGenerator", 2, f"(batch, {self.latent_dim})", channels=(1, self.latent_dim))
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """points (batch, in_features) → one real/fake logit each (Goodfellow et al. 2014), LeakyReLU(0.2) hidden."""

    def __init__(self, in_features: int = 2, hidden: int = 128, num_layers: int = 3) -> None:
        super().__init__()
        self.in_features = in_features
        layers: list[nn.Module] = []
        width = in_features
        for _ in range(num_layers - 1):
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """(batch, in_features) → (batch, 1) logits (positive means "looks real")."""
        check_input(x, "MLPDiscriminator", 2, f"(batch, {self.in_features})", channels=(1, self.in_features))
        return self.net(x)


class DCGANGenerator(nn.Module):
    """z (batch, latent_dim) → images (batch, 1, 28, 28) in [-1, 1] (Radford, Metz & Chintala 2016, DCGAN).

    The idea it shows: DCGAN's recipe — learned upsampling with strided transposed convolutions instead of pooling,
    BatchNorm in the generator, ReLU inside and tanh at the output. Layout: Linear → 128x7x7 → ConvT 4/2 → 64x14x14
    → ConvT 4/2 → 1x28x28.
    """

    def __init__(self, latent_dim: int = 64, width: int = 64) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.project = nn.Sequential(nn.Linear(latent_dim, 2 * width * 7 * 7), nn.BatchNorm1d(2 * width * 7 * 7),
                                     nn.ReLU(), nn.Unflatten(1, (2 * width, 7, 7)))
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1), nn.Tanh(),
        )

    def forward(self, z: Tensor) -> Tensor:
        """(batch, latent_dim) noise → (batch, 1, 28, 28) images."""
        check_input(z, "DCGANGenerator", 2, f"(batch, {self.latent_dim})", channels=(1, self.latent_dim))
        return self.upsample(self.project(z))


class DCGANDiscriminator(nn.Module):
    """images (batch, 1, 28, 28) → one real/fake logit each (Radford, Metz & Chintala 2016, DCGAN).

    The idea it shows: strided convolutions instead of pooling, LeakyReLU(0.2) activations, BatchNorm on all but
    the first layer. Layout: Conv 4/2 → 64x14x14 → Conv 4/2 → 128x7x7 → Linear → 1.
    """

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(2 * width * 7 * 7, 1))

    def forward(self, x: Tensor) -> Tensor:
        """(batch, 1, 28, 28) images → (batch, 1) logits."""
        check_input(x, "DCGANDiscriminator", 4, "(batch, 1, 28, 28)", channels=(1, 1))
        if tuple(x.shape[2:]) != (28, 28):
            raise ValueError(f"DCGANDiscriminator got input of shape {tuple(x.shape)}; expected (batch, 1, 28, 28)")
        return self.classifier(self.features(x))


class GAN(nn.Module):
    """A generator and a discriminator trained against each other (Goodfellow et al. 2014, "Generative adversarial
    nets").

    The idea it shows: two players — D learns to tell data from samples, G learns to fool D. The losses here are
    the standard ones: D minimises BCE(D(x), 1) + BCE(D(G(z)), 0); G minimises the non-saturating BCE(D(G(z)), 1).
    Both submodules are parameters of this container, so give each optimizer only its own player's parameters.
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module) -> None:
        super().__init__()
        if not hasattr(generator, "latent_dim"):
            raise ValueError(f"GAN: the generator ({type(generator).__name__}) needs a latent_dim attribute")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = generator.latent_dim

    def forward(self, z: Tensor) -> Tensor:
        """Generated samples for noise z (batch, latent_dim)."""
        return self.generator(z)

    def noise(self, n: int, generator: Generator | None = None) -> Tensor:
        """n latent vectors z ~ N(0, I), shape (n, latent_dim)."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"GAN: the number of samples must be a positive int, got {n!r}")
        weight = next(iter(self.generator.parameters()), None)  # z goes where the generator is
        return randn(n, self.latent_dim, generator=generator, device=None if weight is None else weight.device)

    def sample(self, n: int, generator: Generator | None = None) -> Tensor:
        """n samples from the generator in eval mode, without recording a graph."""
        was_training = self.generator.training
        self.generator.eval()
        try:
            with no_grad():
                return self.generator(self.noise(n, generator))
        finally:
            self.generator.train(was_training)

    def discriminator_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        """BCE(D(real), 1) + BCE(D(fake), 0); pass fake.detach() so G receives no gradient from this step."""
        d_real, d_fake = self.discriminator(real), self.discriminator(fake)
        return (F.binary_cross_entropy_with_logits(d_real, ones_like(d_real))
                + F.binary_cross_entropy_with_logits(d_fake, zeros_like(d_fake)))

    def generator_loss(self, fake: Tensor) -> Tensor:
        """Non-saturating generator loss BCE(D(fake), 1) = −log D(G(z))."""
        d_fake = self.discriminator(fake)
        return F.binary_cross_entropy_with_logits(d_fake, ones_like(d_fake))
