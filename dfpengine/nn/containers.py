"""Containers: Sequential (a chain) and ModuleList (an indexable list of submodules)."""
from collections import OrderedDict

from .layers import ReLU, _BatchNorm
from .module import Module
from .utils import fusion_enabled


class Sequential(Module):
    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(modules):
                self.add_module(str(i), module)

    def __getitem__(self, index):
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        return items[index][1]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def forward(self, x):
        modules = list(self)
        i = 0
        while i < len(modules):
            if (fusion_enabled() and i + 1 < len(modules) and isinstance(modules[i], _BatchNorm)
                    and type(modules[i + 1]) is ReLU):
                x = modules[i](x, relu=True)  # BatchNorm then ReLU: one fused op
                i += 2
            else:
                x = modules[i](x)
                i += 1
        return x


class ModuleList(Module):
    def __init__(self, modules=None):
        super().__init__()
        self.extend(modules or [])

    def __getitem__(self, index):
        values = list(self._modules.values())
        return ModuleList(values[index]) if isinstance(index, slice) else values[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self
