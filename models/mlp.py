"""Multi-layer perceptron on flattened images."""
from dfpengine import nn


def mlp(num_classes=10, in_channels=1, image_size=28, hidden=(512, 256)):
    """Flatten, then Linear+ReLU per hidden width, then a Linear classifier."""
    layers = [nn.Flatten()]
    width = in_channels * image_size * image_size
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)
