"""The run spec (spec: a composed config resolved once into what a run builds) and
the builder (builder: the spec's parts into a network, a DataModule, a LightningModule,
a Trainer), shared by training and every tool that starts from a checkpoint."""
