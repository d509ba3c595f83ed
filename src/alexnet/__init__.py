"""AlexNet Lab: the 2012 network and its variants with Lightning and Hydra."""
