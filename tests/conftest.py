"""Make `dfpengine.models` importable from a source checkout that is not installed."""
from dfpengine import model_zoo

model_zoo.package()
