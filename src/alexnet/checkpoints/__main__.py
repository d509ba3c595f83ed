from alexnet.checkpoints.upgrade import main

main()
