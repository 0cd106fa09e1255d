"""The DCGAN example's pieces on the bundled MNIST subset: the LeNet judge learns, and judging samples reports
classes and confidence."""

import importlib.util
import pathlib

import glassnet as gn
from glassnet.data import load_mnist_small
from glassnet.models import GAN, DCGANDiscriminator, DCGANGenerator
from glassnet.train import GANTrainer

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "dcgan_mnist.py"


def _module():
    spec = importlib.util.spec_from_file_location("dcgan_mnist", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_judge_learns_digits_and_judges_generator_samples():
    m = _module()
    x, y, x_test, y_test = load_mnist_small()
    x, x_test = x * 2 - 1, x_test[:500] * 2 - 1
    judge, accuracy = m.train_judge(x, y, x_test, y_test[:500], epochs=2, verbose=False)
    assert accuracy > 0.6  # untrained: ~0.1
    assert not judge.training

    gn.manual_seed(0)
    gan = GAN(DCGANGenerator(latent_dim=16, width=8), DCGANDiscriminator(width=8))
    trainer = GANTrainer(gan, gn.optim.Adam(gan.generator.parameters(), lr=2e-4),
                         gn.optim.Adam(gan.discriminator.parameters(), lr=2e-4))
    history = trainer.fit([x[i:i + 32] for i in range(0, 128, 32)], epochs=1)
    assert len(history["d_loss"]) == 1
    verdict = m.judge_samples(judge, gan.sample(50))
    assert sum(verdict["per_class"]) == 50
    assert set(verdict["classes"]) <= set(range(10)) and 0.0 <= verdict["confident_fraction"] <= 1.0
