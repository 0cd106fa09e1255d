"""Chapter 9 of the tour: a small GAN learns a ring of 8 gaussians."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy

import glassnet as gn
import glassnet.nn.functional as F
from glassnet import nn
from glassnet.data.toy import mode_coverage, ring_centers, ring_of_gaussians
from glassnet.tour import figure, print_table, progress

TITLE = "A GAN learns a 2-D distribution"
TEXT = """
A generative adversarial network is two networks in a contest. The generator turns random noise into
points; the discriminator sees real points and generated ones and learns to tell them apart. The
generator is trained to fool the discriminator (the "non-saturating" loss: make the discriminator
say "real" on fakes), so as the discriminator gets sharper the generator's points are pushed toward
where real data lives. Below, the real data is a ring of 8 tight gaussian blobs in the plane. A classic
failure is mode collapse: the generator finds one or two blobs that fool the discriminator and ignores
the rest. We count how many of the 8 modes its samples reach, and what fraction of 1,000 samples land
within 3 standard deviations of some mode.
"""

STD = 0.02
N_MODES = 8


coverage = mode_coverage  # (modes reached, fraction within 3 std, per-mode counts)


def run(quick: bool = False, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Train generator and discriminator with alternating Adam steps; return mode coverage of 1,000 samples."""
    gn.manual_seed(9)
    noise_dim, width = 16, 128
    gen = nn.Sequential(nn.Linear(noise_dim, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                        nn.Linear(width, 2))
    disc = nn.Sequential(nn.Linear(2, width), nn.LeakyReLU(0.2), nn.Linear(width, width), nn.LeakyReLU(0.2),
                         nn.Linear(width, 1))
    opt_g = gn.optim.Adam(gen.parameters(), lr=2e-3, betas=(0.5, 0.999))
    opt_d = gn.optim.Adam(disc.parameters(), lr=2e-3, betas=(0.5, 0.999))
    steps = 1200 if quick else 6000
    batch = 128
    real_all = ring_of_gaussians(steps * batch, n_modes=N_MODES, std=STD, seed=9).astype(numpy.float32)
    centers = ring_centers(N_MODES)
    eval_noise = gn.randn(1000, noise_dim, generator=gn.Generator(99))
    ones, zeros = gn.ones(batch, 1), gn.zeros(batch, 1)
    rows = []
    report_every = max(1, steps // 6)
    say(f"  generator {noise_dim}->{width}->{width}->2, discriminator 2->{width}->{width}->1; "
        f"{steps} alternating Adam steps, batches of {batch}")
    snapshots: dict[int, numpy.ndarray] = {}
    bar = progress(range(steps), desc="chapter 9: GAN")
    for step in bar:
        real = gn.Tensor(real_all[step * batch : (step + 1) * batch])
        fake = gen(gn.randn(batch, noise_dim))
        d_loss = (F.binary_cross_entropy_with_logits(disc(real), ones)
                  + F.binary_cross_entropy_with_logits(disc(fake.detach()), zeros))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = F.binary_cross_entropy_with_logits(disc(gen(gn.randn(batch, noise_dim))), ones)  # non-saturating
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        if (step + 1) % report_every == 0:
            with gn.no_grad():
                pts = gen(eval_noise).numpy()
            modes, frac, _ = coverage(pts, centers, STD)
            rows.append([step + 1, d_loss.item(), g_loss.item(), modes, frac])
            snapshots[step + 1] = pts[:500]
            bar.set_postfix_str(f"modes covered {modes}/8")
    with gn.no_grad():
        pts = gen(eval_noise).numpy()
    modes, frac, per_mode = coverage(pts, centers, STD)
    columns = ["step", "D loss", "G loss", "modes covered (of 8)", "samples within 3 std of a mode"]
    kinds = ["int", None, None, "int", "percent"]
    print_table(say, columns, rows, kinds)
    say(f"\n  samples per mode (of 1,000, within 3 std = {3 * STD:.2f} of a centre): {per_mode}")
    notes = []
    if quick:
        notes.append("A short quick run: the points are still spread between the blobs; the full tour trains five "
                     "times longer.")
    if 0 in per_mode:
        notes.append(f"{per_mode.count(0)} of the 8 modes got no sample: the start of mode collapse, the GAN's classic "
                     "failure, where the generator settles on the blobs that already fool the discriminator.")
    for note in notes:
        say("  " + note)
    shown = {s: snapshots[s] for s in sorted(snapshots)[::2] + sorted(snapshots)[-1:]}  # 3 or 4 moments

    def ring():
        from glassnet.lens.plots import plot_sample_grids_over_epochs

        fig = plot_sample_grids_over_epochs(shown, label="step")
        for ax in fig.axes:
            ax.scatter(centers[:, 0], centers[:, 1], marker="x", color="crimson", s=30, zorder=5)
        return fig

    return {
        "results": {"steps": steps, "modes_covered": modes, "n_modes": N_MODES, "fraction_within_3std": frac,
                    "samples_per_mode": per_mode, "final_d_loss": rows[-1][1], "final_g_loss": rows[-1][2]},
        "headlines": [("modes_covered", "modes reached (of 8)", "int"),
                      ("fraction_within_3std", "samples near a mode", "percent")],
        "tables": [{"title": "GAN training on a ring of 8 gaussians", "columns": columns, "rows": rows,
                    "kinds": kinds}],
        "figures": [figure("the generator's points over training", ring,
                           "500 generated points at each moment; red crosses mark the 8 real modes")],
        "notes": notes,
    }
