"""glassnet.lens.plots: every picture rendered from a real case to PNG, its content checked where cheap, bad input."""

from __future__ import annotations

import sys

import numpy
import pytest
from needs import need_module

import glassnet as gn
import glassnet.nn.functional as F
from glassnet import nn

need_module("matplotlib", "pip install 'glassnet[plots]'")

from glassnet.lens import plots  # noqa: E402
from glassnet.lens.recorder import Recorder, Recording  # noqa: E402
from glassnet.train import EarlyStopping, Trainer  # noqa: E402
from glassnet.train.history import History  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_of(fig, min_kb: float = 4.0) -> bytes:
    data = plots.figure_to_png_bytes(fig, dpi=60)
    assert data[:8] == PNG_MAGIC
    assert len(data) > min_kb * 1024, f"suspiciously small PNG: {len(data)} bytes"
    return data


def rgb_pixels(fig) -> numpy.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return numpy.asarray(canvas.buffer_rgba())[..., :3].reshape(-1, 3).astype(int)


def has_colour(pixels: numpy.ndarray, rgb: numpy.ndarray, tol: int = 6) -> bool:
    return bool((numpy.abs(pixels - rgb).max(1) <= tol).any())


# ----- files and the missing-extra message ----------------------------------------------------------------------
def test_save_figure_writes_png_and_svg_atomically(tmp_path):
    fig = plots.plot_confusion_matrix(numpy.eye(3) * 5)
    png = plots.save_figure(fig, tmp_path / "m.png")
    svg = plots.save_figure(fig, tmp_path / "m.svg")
    assert open(png, "rb").read(8) == PNG_MAGIC
    assert b"<svg" in open(svg, "rb").read(2000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.png", "m.svg"]  # no temporary files left
    with pytest.raises(ValueError, match=r"save_figure: .*\.png or \.svg"):
        plots.save_figure(fig, tmp_path / "m.jpg")


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install 'glassnet\[plots\]'"):
        plots.plot_confusion_matrix(numpy.eye(2))


# ----- training curves --------------------------------------------------------------------------------------------
def trained_with_early_stopping() -> tuple[Trainer, EarlyStopping]:
    """A net that overfits 20 noisy points quickly, so validation loss turns up and EarlyStopping fires."""
    gn.manual_seed(0)
    x, y = gn.randn(40, 2), gn.randint(0, 2, (40,))
    model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 2))
    stopper = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    trainer = Trainer(model, F.cross_entropy, gn.optim.Adam(model.parameters(), lr=0.05), callbacks=[stopper])
    trainer.fit([(x[:20], y[:20])], epochs=200, val_loader=[(x[20:], y[20:])])
    return trainer, stopper


def test_plot_history_marks_restored_best_epoch_and_stop():
    trainer, stopper = trained_with_early_stopping()
    assert stopper.stopped_epoch is not None and stopper.best_epoch is not None
    fig = plots.plot_history(trainer)
    png_of(fig)
    ax = fig.axes[0]
    best = [line for line in ax.lines if line.get_gid() == "best_epoch"]
    assert len(best) == 1
    val = trainer.history["val_loss"]
    assert best[0].get_xdata()[0] == stopper.best_epoch + 1  # epochs shown counted from 1
    assert best[0].get_ydata()[0] == pytest.approx(val[stopper.best_epoch])
    assert "restored best epoch" in best[0].get_label()
    stop = [line for line in ax.lines if line.get_gid() == "stopped_epoch"]
    assert len(stop) == 1 and stop[0].get_xdata()[0] == stopper.stopped_epoch + 1


def test_plot_history_from_history_and_dict_with_explicit_marks():
    h = History()
    for e, (loss, acc) in enumerate([(1.0, 0.5), (0.6, 0.7), (0.4, 0.8), (0.5, 0.75)]):
        h.append_epoch(e, {"loss": loss, "val_loss": loss + 0.1, "accuracy": acc})
    fig = plots.plot_history(h, metrics=("loss", "accuracy"), best_epoch=2, stopped_epoch=3)
    png_of(fig)
    assert len(fig.axes) == 2
    (best,) = [line for line in fig.axes[0].lines if line.get_gid() == "best_epoch"]
    assert (best.get_xdata()[0], best.get_ydata()[0]) == (3, pytest.approx(0.5))
    fig = plots.plot_history(h.to_dict(), best_epoch=1)
    (best,) = [line for line in fig.axes[0].lines if line.get_gid() == "best_epoch"]
    assert best.get_xdata()[0] == 2 and "restored" not in best.get_label()
    fig = plots.plot_history({"loss": [3.0, 2.0, 1.5]})
    assert [line.get_label() for line in fig.axes[0].lines] == ["train"]


def test_plot_history_bad_input():
    with pytest.raises(ValueError, match="plot_history: the history is empty"):
        plots.plot_history(History())
    with pytest.raises(ValueError, match=r"plot_history: no values for \['acc'\].*loss"):
        plots.plot_history({"loss": [1.0, 0.5]}, metrics=("acc",))
    with pytest.raises(TypeError, match="plot_history: expected a History"):
        plots.plot_history([1.0, 0.5])


# ----- 2-D classifiers ----------------------------------------------------------------------------------------------
def two_blobs() -> tuple[nn.Module, gn.Tensor, gn.Tensor]:
    gn.manual_seed(1)
    y = gn.Tensor(numpy.repeat([0, 1], 40))
    x = gn.randn(80, 2) * 0.5 + gn.Tensor(numpy.repeat([[-1.5, 0.0], [1.5, 0.0]], 40, axis=0).astype(numpy.float32))
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 2))
    opt = gn.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(60):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, x, y


def test_decision_boundary_shows_both_class_regions_and_points():
    from matplotlib.colors import to_rgb

    model, x, y = two_blobs()
    model.train()
    fig = plots.plot_decision_boundary(model, x, y, resolution=80)
    png_of(fig)
    assert model.training  # the training flag is restored
    pixels = rgb_pixels(fig)
    for colour in plots._PALETTE[:2]:
        full = numpy.array(to_rgb(colour)) * 255
        assert has_colour(pixels, full.round())  # the points
        assert has_colour(pixels, (0.3 * full + 0.7 * 255).round())  # the pale region (alpha 0.3 on white)
    assert set(numpy.unique(fig.axes[0].images[0].get_array())) == {0, 1}
    assert "accuracy on these points 100.0%" in fig.axes[0].get_title()


def test_decision_boundary_with_one_output_and_given_axes():
    from matplotlib.figure import Figure

    model, x, y = two_blobs()
    one_logit = nn.Sequential(model, nn.Linear(2, 1))
    ax = Figure().add_subplot()
    assert plots.plot_decision_boundary(one_logit, x, y, resolution=30, ax=ax) is ax.figure
    assert ax.images


def test_decision_boundary_bad_input():
    model, x, y = two_blobs()
    with pytest.raises(ValueError, match=r"plot_decision_boundary: x should have shape \(N, 2\), got \(80, 3\)"):
        plots.plot_decision_boundary(model, gn.randn(80, 3), y)
    with pytest.raises(ValueError, match="plot_decision_boundary: y has 79 labels for 80 points"):
        plots.plot_decision_boundary(model, x, y[:79])


def test_neuron_activations_one_panel_per_hidden_neuron():
    gn.manual_seed(2)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 1))
    fig = plots.plot_neuron_activations(model, (-2, 2), resolution=20)
    png_of(fig)
    with_images = [ax for ax in fig.axes if ax.images]
    assert len(with_images) == 3 + 5
    panel = with_images[0].images[0].get_array()
    assert panel.shape == (20, 20)
    # the panel is neuron 0 of the first Tanh: check one corner against a direct forward pass
    corner = nn.Sequential(*list(model.children())[:2])(gn.tensor([[-2.0, -2.0]])).detach().numpy()[0, 0]
    assert panel[0, 0] == pytest.approx(corner, abs=1e-5)
    fig = plots.plot_neuron_activations(model, ((-1, 1), (0, 2)), layer="3", resolution=10)
    assert len([ax for ax in fig.axes if ax.images]) == 5
    assert not model._modules["1"]._forward_hooks  # hooks removed


def test_neuron_activations_bad_input():
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    with pytest.raises(ValueError, match="plot_neuron_activations: layer 'nope' is not a module"):
        plots.plot_neuron_activations(model, (-1, 1), layer="nope")
    with pytest.raises(ValueError, match="plot_neuron_activations: x_range should be"):
        plots.plot_neuron_activations(model, (1, -1))
    with pytest.raises(Exception, match=r"Linear\(3→3\)"):  # a model that does not take 2 inputs
        plots.plot_neuron_activations(nn.Sequential(nn.Linear(3, 3), nn.Tanh()), (-1, 1))


# ----- what the Recorder saw --------------------------------------------------------------------------------------
def recorded(histograms: bool = True, steps: int = 6) -> Recording:
    gn.manual_seed(3)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 16), nn.Sigmoid(), nn.Linear(16, 3))
    opt = gn.optim.SGD(model.parameters(), lr=0.1)
    rec = Recorder(histograms=histograms).attach(model, opt)
    x, y = gn.randn(64, 8), gn.randint(0, 3, (64,))
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    rec.detach()
    return rec.recording


@pytest.mark.parametrize("kind, panels", [("weights", 6), ("gradients", 6), ("activations", 5)])
def test_histograms_one_panel_per_parameter_or_layer(kind, panels):
    fig = plots.plot_histograms(recorded(), kind=kind)
    png_of(fig)
    curves = [ax for ax in fig.axes if ax.lines]
    assert len(curves) == panels
    assert len(curves[0].lines) == 6  # one per recorded step
    density = curves[0].lines[0]
    x, d = density.get_xdata(), density.get_ydata()
    assert numpy.sum(d) * (x[1] - x[0]) == pytest.approx(1.0, rel=1e-6)  # a density, not counts
    assert curves[0].get_yscale() == ("log" if kind == "gradients" else "linear")


def test_histograms_bad_input():
    with pytest.raises(ValueError, match=r"no weights histograms; record with Recorder\(histograms=True\)"):
        plots.plot_histograms(recorded(histograms=False))
    with pytest.raises(ValueError, match="plot_histograms: kind should be one of"):
        plots.plot_histograms(recorded(), kind="biases")
    with pytest.raises(ValueError, match=r"none of \['x'\] has weights histograms"):
        plots.plot_histograms(recorded(), names=["x"])


def test_gradient_flow_log_scale_lines_and_bars():
    rec = recorded(histograms=False)
    fig = plots.plot_gradient_flow(rec)
    png_of(fig)
    left, right = fig.axes
    assert left.get_yscale() == "log" and right.get_yscale() == "log"
    assert len(left.lines) == len(rec.param_order) == 6
    heights = [bar.get_height() for bar in right.patches]
    expected = numpy.mean(rec.series("params", "0.weight", "grad_norm")[1])
    assert heights[0] == pytest.approx(expected)


def test_gradient_flow_bad_input():
    with pytest.raises(ValueError, match="plot_gradient_flow: the recording is empty"):
        plots.plot_gradient_flow(Recording())


# ----- convolutional networks -------------------------------------------------------------------------------------
def small_cnn() -> nn.Sequential:
    gn.manual_seed(4)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 3))


def test_filters_mosaic_single_channel_rgb_and_many_channels():
    cnn = small_cnn()
    fig = plots.plot_filters(cnn[0])
    png_of(fig, min_kb=2)
    mosaic = fig.axes[0].images[0].get_array()
    assert mosaic.shape == (3, 4 * 4 - 1)  # four 3x3 kernels side by side, one-pixel gaps
    numpy.testing.assert_allclose(mosaic[:, 8:11], cnn[0].weight.detach().numpy()[2, 0])
    assert numpy.ma.getmaskarray(mosaic)[:, 3].all() or numpy.isnan(numpy.asarray(mosaic)[:, 3]).all()  # a gap
    rgb = plots.plot_filters(nn.Conv2d(3, 6, 5)).axes[0].images[0].get_array()
    assert rgb.shape == (5, 6 * 6 - 1, 3)
    conv = nn.Conv2d(5, 2, 3)
    many = plots.plot_filters(conv).axes[0].images[0].get_array()
    assert many.shape == (5 * 4 - 1, 2 * 4 - 1)  # a row per input channel, a column per filter
    numpy.testing.assert_allclose(many[4:7, 4:7], conv.weight.detach().numpy()[1, 1])


def test_filters_bad_layer():
    with pytest.raises(TypeError, match=r"plot_filters: expected a Conv2d layer .* Linear with weight shape \(2, 3\)"):
        plots.plot_filters(nn.Linear(3, 2))


def test_feature_maps_show_input_and_each_channel():
    cnn = small_cnn()
    image = gn.randn(1, 8, 8)
    fig = plots.plot_feature_maps(cnn, "1", image)
    png_of(fig)
    panels = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(panels) == 1 + 4
    expected = F.relu(cnn[0](image[None])).detach().numpy()[0, 3]
    numpy.testing.assert_allclose(panels[4], expected, rtol=1e-5, atol=1e-6)
    assert plots.plot_feature_maps(cnn, cnn[2], image[None]).axes  # by module, batch of one


def test_feature_maps_bad_input():
    cnn = small_cnn()
    with pytest.raises(ValueError, match=r"plot_feature_maps: layer '4' gave output of shape \(1, 3\)"):
        plots.plot_feature_maps(cnn, "4", gn.randn(1, 8, 8))
    with pytest.raises(ValueError, match=r"plot_feature_maps: x should be one image .* got \(2, 1, 8, 8\)"):
        plots.plot_feature_maps(cnn, "0", gn.randn(2, 1, 8, 8))
    with pytest.raises(ValueError, match="plot_feature_maps: layer 'conv' is not a module"):
        plots.plot_feature_maps(cnn, "conv", gn.randn(1, 8, 8))


# ----- evaluation and attribution ---------------------------------------------------------------------------------
def test_confusion_matrix_annotates_counts_and_fractions():
    m = numpy.array([[5, 1, 0], [2, 7, 1], [0, 0, 4]])
    fig = plots.plot_confusion_matrix(m, labels=["cat", "dog", "emu"])
    png_of(fig)
    ax = fig.axes[0]
    texts = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    assert texts == {(i, j): str(m[i, j]) for i in range(3) for j in range(3)}
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog", "emu"]
    assert "accuracy 80.0%" in ax.get_title()
    normed = plots.plot_confusion_matrix(m, normalize=True).axes[0]
    assert normed.texts[3].get_text() == f"{2 / 10:.2f}"  # row 1, column 0


def test_confusion_matrix_bad_input():
    with pytest.raises(ValueError, match=r"plot_confusion_matrix: matrix should be square .* got \(2, 3\)"):
        plots.plot_confusion_matrix(numpy.ones((2, 3)))
    with pytest.raises(ValueError, match="plot_confusion_matrix: 2 labels for a 3×3 matrix"):
        plots.plot_confusion_matrix(numpy.eye(3), labels=["a", "b"])


def test_attribution_overlay_resizes_a_coarse_map():
    image = gn.rand(1, 16, 16)
    cam = numpy.zeros((4, 4))
    cam[0, 0] = 1.0
    fig = plots.plot_attribution(image, cam, title="Grad-CAM")
    png_of(fig)
    shown = fig.axes[1].images[0].get_array()
    assert shown.shape == (16, 16) and shown[0, 0] == 1.0 and shown[-1, -1] == 0.0
    assert fig.axes[1].images[0].get_cmap().name == "inferno"
    signed = plots.plot_attribution(numpy.random.rand(8, 8, 3), numpy.random.randn(3, 8, 8))
    assert signed.axes[1].images[0].get_cmap().name == "RdBu_r"  # signed maps centred on zero


def test_attribution_bad_input():
    with pytest.raises(ValueError, match=r"plot_attribution: image should have shape .* got \(2, 5, 5\)"):
        plots.plot_attribution(numpy.ones((2, 5, 5)), numpy.ones((5, 5)))
    with pytest.raises(ValueError, match="plot_attribution: alpha must be in"):
        plots.plot_attribution(numpy.ones((5, 5)), numpy.ones((5, 5)), alpha=2)
    with pytest.raises(ValueError, match="plot_attribution: attribution should be"):
        plots.plot_attribution(numpy.ones((5, 5)), numpy.ones(5))


def test_attention_one_panel_per_head_with_tokens():
    weights = F.softmax(gn.randn(2, 3, 4), -1)
    fig = plots.plot_attention(weights, ["the", "cat", "sat"], ["<s>", "the", "cat", "sat"])
    png_of(fig)
    heads = [ax for ax in fig.axes if ax.images]
    assert len(heads) == 2
    assert [t.get_text() for t in heads[1].get_yticklabels()] == ["the", "cat", "sat"]
    assert [t.get_text() for t in heads[1].get_xticklabels()] == ["<s>", "the", "cat", "sat"]
    numpy.testing.assert_allclose(heads[1].images[0].get_array(), weights.numpy()[1])
    single = plots.plot_attention(numpy.eye(3), list("abc"))
    assert len([ax for ax in single.axes if ax.images]) == 1


def test_attention_bad_input():
    with pytest.raises(ValueError, match=r"plot_attention: weights of shape \(3, 4\) need 3 query and 4 key"):
        plots.plot_attention(numpy.ones((3, 4)), ["a", "b", "c"])
    with pytest.raises(ValueError, match="plot_attention: weights should be"):
        plots.plot_attention(numpy.ones(3), ["a", "b", "c"])


# ----- samples ----------------------------------------------------------------------------------------------------
def test_sample_grid_tiles_images_and_scatters_points():
    images = numpy.random.rand(10, 1, 6, 6)
    fig = plots.plot_sample_grid(images, nrow=4)
    png_of(fig, min_kb=2)
    tiled = fig.axes[0].images[0].get_array()
    assert tiled.shape == (3 * 7 + 1, 4 * 7 + 1)
    flat = plots.plot_sample_grid(images.reshape(10, 36), nrow=5).axes[0].images[0].get_array()
    assert flat.shape == (2 * 7 + 1, 5 * 7 + 1)
    points = plots.plot_sample_grid(numpy.random.randn(50, 2))
    assert not points.axes[0].images and len(points.axes[0].collections[0].get_offsets()) == 50


def test_sample_grids_over_epochs():
    grids = {e: numpy.random.rand(8, 3, 5, 5) for e in (1, 10, 5)}
    fig = plots.plot_sample_grids_over_epochs(grids, nrow=4)
    png_of(fig)
    assert [ax.get_title() for ax in fig.axes] == ["epoch 1", "epoch 5", "epoch 10"]
    points = plots.plot_sample_grids_over_epochs({0: numpy.zeros((5, 2)), 9: numpy.random.randn(5, 2)}, label="step")
    assert points.axes[0].get_xlim() == points.axes[1].get_xlim()
    assert points.axes[1].get_title() == "step 9"


def test_samples_bad_input():
    with pytest.raises(ValueError, match=r"plot_sample_grid: images should be .* got \(4, 5, 5, 5\)"):
        plots.plot_sample_grid(numpy.ones((4, 5, 5, 5)))
    with pytest.raises(ValueError, match="plot_sample_grids_over_epochs: grids should be a non-empty dict"):
        plots.plot_sample_grids_over_epochs({})


# ----- optimisers on a 2-D surface ---------------------------------------------------------------------------------
def test_optimizer_paths_momentum_and_adam_beat_plain_sgd():
    fig = plots.plot_optimizer_paths(steps=200)
    png_of(fig)
    runs = fig.optimizer_paths
    assert set(runs) == {"sgd", "momentum", "adam"}
    for run in runs.values():
        assert run["path"].shape == (201, 2) and run["loss"].shape == (201,)
        numpy.testing.assert_allclose(run["path"][0], (-1.2, 1.0))
        assert run["loss"][-1] == pytest.approx(float(plots.rosenbrock(run["path"][-1])))
    assert runs["momentum"]["loss"][-1] < runs["sgd"]["loss"][-1]
    assert runs["adam"]["loss"][-1] < runs["sgd"]["loss"][-1]
    assert {line.get_gid() for line in fig.axes[0].lines} >= {"path_sgd", "path_momentum", "path_adam"}


def test_optimizer_paths_on_a_custom_surface():
    def bowl(p):
        return p[0] ** 2 + 10 * p[1] ** 2

    runs = plots.optimizer_paths(bowl, optimizers=("sgd", "rmsprop"), steps=50, start=(2.0, 1.0),
                                 lr={"sgd": 0.04})
    assert runs["sgd"]["lr"] == 0.04
    assert runs["sgd"]["loss"][-1] < runs["sgd"]["loss"][0] / 10
    assert plots.plot_optimizer_paths(bowl, optimizers=("adam",), steps=20, start=(2.0, 1.0)).axes


def test_optimizer_paths_bad_input():
    with pytest.raises(ValueError, match=r"optimizer_paths: unknown optimisers \['lbfgs'\]"):
        plots.optimizer_paths(optimizers=("sgd", "lbfgs"))
    with pytest.raises(ValueError, match="optimizer_paths: need steps ≥ 1 and a 2-D start"):
        plots.optimizer_paths(start=(0.0, 0.0, 0.0))


# ----- what the report and the tour need of a chart ----------------------------------------------------------------
def test_plot_history_ticks_whole_epochs_and_names_a_test_curve():
    fig = plots.plot_history({"test_accuracy": [0.6, 0.7, 0.74], "loss": [1.0, 0.7, 0.6]},
                             metrics=("test_accuracy", "loss"))
    test_ax, loss_ax = fig.axes
    fig.canvas.draw()
    for ax in (test_ax, loss_ax):  # 2 or 3 epochs: ticks 1, 2, 3, never 1.0, 1.25, 1.5
        assert all(float(t).is_integer() for t in ax.get_xticks())
    assert [t.get_text() for t in test_ax.get_legend().get_texts()] == ["test"]  # not "train"
    assert [t.get_text() for t in loss_ax.get_legend().get_texts()] == ["train"]


def test_a_dollar_in_a_name_is_text_not_mathtext():
    fig = plots.plot_history({"cost_$\\frac{$": [3.0, 2.0], "val_cost_$\\frac{$": [3.5, 2.5]},
                             metrics=["cost_$\\frac{$"])
    assert plots.figure_to_png_bytes(fig)[:4] == b"\x89PNG"  # drawing does not raise a mathtext parse error
    assert fig.axes[0].get_title() == "cost_\\$\\frac{\\$"
    fig = plots.plot_confusion_matrix([[1, 0], [0, 1]], labels=["$a", "b$^"])
    assert plots.figure_to_png_bytes(fig)[:4] == b"\x89PNG"


def test_curves_bars_and_layer_outputs():
    fig = plots.plot_curves({"SGD": [3.0, 2.0, 1.5, 1.2], "Adam": ([1, 2, 3, 4], [2.5, 1.0, 0.6, 0.5])},
                            ylabel="loss", log=True)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["SGD", "Adam"] and ax.get_yscale() == "log"
    fig.canvas.draw()
    assert all(float(t).is_integer() for t in ax.get_xticks())
    fig = plots.plot_curves({"p": (numpy.linspace(0, 1, 11), numpy.linspace(0, 1, 11) ** 2)}, percent=True)
    fig.canvas.draw()
    assert any(not float(t).is_integer() for t in fig.axes[0].get_xticks())  # a continuous x keeps its ticks
    fig = plots.plot_bars(["2", "5"], {"frozen": [0.5, 0.7], "scratch": [0.4, 0.8]}, percent=True)
    assert len(fig.axes[0].patches) == 4
    assert [t.get_text() for t in fig.axes[0].texts] == ["50.0%", "70.0%", "40.0%", "80.0%"]
    with pytest.raises(ValueError, match="plot_bars: series 'frozen' has 1 values for 2 categories"):
        plots.plot_bars(["2", "5"], {"frozen": [0.5]})
    gn.manual_seed(0)
    model = gn.nn.Sequential(gn.nn.Linear(4, 3), gn.nn.ReLU(), gn.nn.Linear(3, 2))
    fig = plots.plot_layer_outputs(model, gn.randn(1, 4))
    assert [ax.get_ylabel() for ax in fig.axes] == ["input", "0: Linear", "1: ReLU", "2: Linear"]
    with pytest.raises(ValueError, match="plot_layer_outputs: expected one input"):
        plots.plot_layer_outputs(model, gn.randn(2, 4))
