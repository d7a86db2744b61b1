"""Terminal progress for training: one tqdm bar over the whole run (images/s, ETA to the end
of the last epoch) and one line per epoch, which also carries the run's ETA for logs."""
import sys
import time

from tqdm import tqdm

from dfpengine.training import Observer


def format_seconds(seconds):
    """`1h02m`, `4m05s` or `12s`."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def epoch_line(record, epochs, eta=None):
    partial = " (partial)" if record["partial"] else ""
    remaining = f"  eta {format_seconds(eta)}" if eta is not None else ""
    return (f"epoch {record['epoch']}/{epochs}{partial}  "
            f"train loss {record['train_loss']:.4f} acc {100 * record['train_accuracy']:.2f}%  "
            f"test loss {record['test_loss']:.4f} acc {100 * record['test_accuracy']:.2f}%  "
            f"lr {record['lr']:.4g}  {record['images_per_s']:.0f} img/s{remaining}")


class ProgressObserver(Observer):
    """A bar on a terminal (or on `file` with `bar=True`); epoch lines go to stdout unless
    `quiet` (--json). The ETA is the whole run's: remaining images of all epochs at the wall
    rate since this process started training (evaluations included)."""

    def __init__(self, quiet=False, bar=None, file=None, clock=time.monotonic):
        self.quiet, self.file, self.clock = quiet, file or sys.stderr, clock
        self.show_bar = (not quiet and self.file.isatty()) if bar is None else bar
        self.bar, self.epochs = None, 0
        self.total = self.done = self.done_at_start = 0
        self.started = None

    def run_start(self, total_images, done_images):
        self.total, self.done, self.done_at_start = total_images, done_images, done_images
        self.started = self.clock()
        if self.show_bar:
            self.bar = tqdm(total=total_images, initial=done_images, unit="img", unit_scale=True,
                            file=self.file, leave=False, dynamic_ncols=True, smoothing=0.05)

    def eta(self):
        """Seconds to the end of the run, or None before any image of this process."""
        trained = self.done - self.done_at_start
        if self.started is None or trained <= 0:
            return None
        return (self.clock() - self.started) / trained * max(self.total - self.done, 0)

    def epoch_start(self, epoch, epochs, total_images, done_images):
        self.epochs = epochs
        if self.bar is not None:
            self.bar.set_description(f"epoch {epoch + 1}/{epochs}", refresh=False)

    def batch_end(self, images, loss):
        self.done += images
        if self.bar is not None:
            self.bar.update(images)
            self.bar.set_postfix(loss=f"{loss:.3f}", refresh=False)

    def epoch_end(self, record):
        if self.quiet:
            return
        line = epoch_line(record, self.epochs, self.eta() if self.done < self.total else None)
        if self.bar is not None:
            self.bar.write(line, file=sys.stdout)
        else:
            print(line, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
