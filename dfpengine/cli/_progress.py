"""Terminal progress for training: a tqdm bar per epoch (images/s, ETA) and one line per epoch."""
import sys

from tqdm import tqdm

from dfpengine.training import Observer


def epoch_line(record, epochs):
    partial = " (partial)" if record["partial"] else ""
    return (f"epoch {record['epoch']}/{epochs}{partial}  "
            f"train loss {record['train_loss']:.4f} acc {100 * record['train_accuracy']:.2f}%  "
            f"test loss {record['test_loss']:.4f} acc {100 * record['test_accuracy']:.2f}%  "
            f"lr {record['lr']:.4g}  {record['images_per_s']:.0f} img/s")


class ProgressObserver(Observer):
    """Shows a bar only on a terminal; epoch lines go to stdout unless `quiet` (--json)."""

    def __init__(self, quiet=False):
        self.quiet = quiet
        self.show_bar = not quiet and sys.stderr.isatty()
        self.bar, self.epochs = None, 0

    def epoch_start(self, epoch, epochs, total_images, done_images):
        self.epochs = epochs
        if self.show_bar:
            self.bar = tqdm(total=total_images, initial=done_images, unit="img", unit_scale=True,
                            desc=f"epoch {epoch + 1}/{epochs}", leave=False, dynamic_ncols=True)

    def batch_end(self, images, loss):
        if self.bar is not None:
            self.bar.update(images)
            self.bar.set_postfix(loss=f"{loss:.3f}", refresh=False)

    def epoch_end(self, record):
        self.close()
        if not self.quiet:
            print(epoch_line(record, self.epochs), flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
