"""AlexNet Lab: the 2012 network and its variants with Lightning and Hydra."""

import alexnet.resolvers  # noqa: F401  (the configs' ${best_mixed_precision:})
