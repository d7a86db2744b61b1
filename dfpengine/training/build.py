"""Build a run's parts from a TrainConfig: data, loaders, model, optimizer, LR schedule."""
import dataclasses

import dfpengine
from dfpengine import data, model_zoo, nn
from dfpengine.optim import SGD, lr_scheduler


def load_data(cfg):
    """The data set's splits, cut to the first cfg.limit_train / cfg.limit_test images if set.
    (The readers' files are in the data set's own order: Fashion-MNIST's first images are
    close to balanced.)"""
    splits = data.load(cfg.dataset, cfg.data_dir)
    cut = {}
    if cfg.limit_train:
        cut.update(x_train=splits.x_train[:cfg.limit_train], y_train=splits.y_train[:cfg.limit_train])
    if cfg.limit_test:
        cut.update(x_test=splits.x_test[:cfg.limit_test], y_test=splits.y_test[:cfg.limit_test])
    return dataclasses.replace(splits, **cut) if cut else splits


def loaders(cfg, splits):
    """(train loader: shuffled and augmented as the data set is usually trained; test loader)."""
    train = data.DataLoader(
        data.ArrayDataset(splits.x_train, splits.y_train), cfg.batch_size, splits.mean, splits.std,
        shuffle=True, seed=cfg.seed, crop_padding=splits.crop_padding, flip=splits.flip)
    test = data.DataLoader(
        data.ArrayDataset(splits.x_test, splits.y_test), max(cfg.batch_size, 256), splits.mean, splits.std)
    return train, test


def model(cfg, splits):
    """The model, initialised from the engine's generator seeded with cfg.seed, with layer
    names and roles set for the precision policy."""
    dfpengine.manual_seed(cfg.seed)
    net = model_zoo.create(cfg.model, splits.num_classes, splits.in_channels, splits.image_size)
    return nn.utils.assign_layer_roles(net)


def optimizer(cfg, net):
    return SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def scheduler(cfg, opt):
    """Per-epoch LR schedule, or None for a constant rate."""
    if cfg.schedule == "step":
        return lr_scheduler.StepLR(opt, step_size=max(1, cfg.epochs // 3), gamma=0.1)
    if cfg.schedule == "multistep":
        milestones = sorted({max(1, cfg.epochs // 2), max(1, cfg.epochs * 3 // 4)})
        return lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=0.1)
    if cfg.schedule == "cosine":
        return lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    return None
