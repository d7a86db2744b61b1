"""PNG curves of runs' metrics. matplotlib is optional: imported only here, only when plotting."""


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend; RuntimeError with the fix when missing."""
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("plotting needs matplotlib: pip install matplotlib "
                           "(or the package's 'plot' extra)") from None
    matplotlib.use("Agg")   # files only; never needs a display
    import matplotlib.pyplot as plt
    return plt


def plot_runs(runs, path):
    """One PNG: loss and accuracy per epoch for each (label, metrics records) in `runs`;
    one colour per run, test solid with dots, train dashed."""
    plt = pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, records) in enumerate(runs):
        colour = colours[i % len(colours)]
        epochs = [r["epoch"] for r in records]
        ax_loss.plot(epochs, [r["train_loss"] for r in records], "--", color=colour, alpha=0.6)
        ax_loss.plot(epochs, [r["test_loss"] for r in records], "-o", color=colour, ms=3, label=label)
        ax_acc.plot(epochs, [100 * r["train_accuracy"] for r in records], "--", color=colour, alpha=0.6)
        ax_acc.plot(epochs, [100 * r["test_accuracy"] for r in records], "-o", color=colour, ms=3, label=label)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss (test solid, train dashed)")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy (test solid, train dashed)")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
