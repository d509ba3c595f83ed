"""Every GPU path, run for real on a CUDA device (`make test-gpu`). Skipped, with the
reason, where there is none. Each asserts what could fail on the device."""

import pytest
import torch

from alexnet.data import CIFAR10DataModule
from alexnet.fast import compile_net, to_channels_last
from alexnet.models import LocalResponseNorm, create_model
from alexnet.tasks.train import train
from conftest import compose_config, run_task

pytestmark = pytest.mark.gpu
CUDA = torch.device("cuda")
QUICK = [
    "trainer=gpu",
    "trainer.max_epochs=3",
    "logger=csv",
    "~callbacks.progress_bar",
    "data.batch_size=64",
]


def batches(seed: int = 0, count: int = 4, size: int = 32):
    generator = torch.Generator().manual_seed(seed)
    return [
        (
            torch.randn(16, 3, size, size, generator=generator),
            torch.randint(0, 10, (16,), generator=generator),
        )
        for _ in range(count)
    ]


def test_training_on_the_gpu_learns(tmp_path):
    metrics = run_task(train, compose_config(tmp_path, *QUICK))
    assert metrics["test/acc"] > 0.8  # digits, 3 epochs, bf16-mixed, channels_last


def losses(precision: torch.dtype | None) -> list[float]:
    torch.manual_seed(0)
    net = create_model("alexnet_mini", num_classes=10).to(CUDA)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    out = []
    for images, labels in batches():
        with torch.autocast("cuda", dtype=precision, enabled=precision is not None):
            loss = torch.nn.functional.cross_entropy(net(images.to(CUDA)), labels.to(CUDA))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        out.append(loss.item())
    return out


def test_bf16_losses_stay_near_fp32():
    fp32, bf16 = losses(None), losses(torch.bfloat16)
    assert bf16 == pytest.approx(fp32, rel=0.03)


def test_compiled_logits_equal_eager():
    net = create_model("alexnet", num_classes=10).to(CUDA).eval()
    x = torch.randn(8, 3, 227, 227, device=CUDA)
    with torch.no_grad():
        expected = net(x)
        compile_net(net, "strict")  # inductor, no fallback: a failure fails the test
        torch.testing.assert_close(net(x), expected, rtol=1e-3, atol=1e-3)


def test_channels_last_equals_contiguous():
    net = create_model("alexnet", num_classes=10).to(CUDA).eval()
    x = torch.randn(8, 3, 227, 227, device=CUDA)
    with torch.no_grad():
        expected = net(x)
        net.to(memory_format=torch.channels_last)
        torch.testing.assert_close(net(to_channels_last(x)), expected, rtol=1e-4, atol=1e-4)


def test_lrn_backward_is_bit_identical_in_deterministic_mode():
    torch.use_deterministic_algorithms(True)
    try:
        grads = []
        for _ in range(2):
            x = torch.randn(
                8, 96, 55, 55, device=CUDA, generator=torch.Generator(CUDA).manual_seed(0)
            )
            x.requires_grad_()
            LocalResponseNorm(5, 5e-4, 0.75, 2.0)(x).square().sum().backward()
            grads.append(x.grad)
    finally:
        torch.use_deterministic_algorithms(False)
    assert torch.equal(grads[0], grads[1])


def test_batches_prepared_on_the_gpu_equal_those_prepared_on_the_cpu(cifar10_root):
    """The in-memory pipeline (resize to 227, normalise) of a uint8 batch on CUDA gives
    what it gives on the CPU."""
    dm = CIFAR10DataModule(root=str(cifar10_root), image_size=227, val_size=20)
    dm.setup()
    images = dm.test_set.tensors[0][:20]
    on_gpu = dm.pipeline(images.to(CUDA), None)
    torch.testing.assert_close(on_gpu.cpu(), dm.pipeline(images, None), atol=1e-4, rtol=0)


def test_on_device_training_metrics_equal_the_dataloader_paths(tmp_path, cifar10_root):
    common = [
        *QUICK,
        "data=cifar10",
        f"data.root={cifar10_root}",
        "data.val_size=20",
        "model=alexnet_mini",
        "trainer.max_epochs=1",
        "trainer.deterministic=true",
        "channels_last=false",
        "trainer.precision=32-true",
        "data.num_workers=0",
    ]
    plain = run_task(train, compose_config(tmp_path / "plain", *common))
    device = run_task(train, compose_config(tmp_path / "device", *common, "data.on_device=true"))
    assert device["test/acc"] == pytest.approx(plain["test/acc"], abs=0.05)


def test_predict_and_export_on_cuda(tmp_path):
    from alexnet.tasks.export import export
    from alexnet.tasks.predict import predict
    from fixtures import write_image

    run_task(train, compose_config(tmp_path / "run", *QUICK, "trainer.max_epochs=1", "test=false"))
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    image = write_image(tmp_path / "x.png")
    (result,) = run_task(
        predict,
        compose_config(
            tmp_path / "predict",
            f"ckpt_path={ckpt}",
            f"inputs=[{image}]",
            "device=cuda",
            "gradcam=true",
            config_name="predict",
        ),
    )
    assert len(result["top"]) == 5 and result["gradcam"]
    written = run_task(
        export,
        compose_config(
            tmp_path / "export",
            f"ckpt_path={ckpt}",
            "formats=[pt2]",
            f"out={tmp_path / 'export'}",
            config_name="export",
        ),
    )
    program = torch.export.load(str(written[0]))
    x = torch.randn(2, 1, 32, 32)
    assert program.module()(x).shape == (2, 10)


def test_prepared_squares_are_cut_on_the_gpu_as_on_the_cpu():
    """Evaluation patches (centre, ten) equal the CPU's; training crops on the device
    are crops of the square and its reflection, with the colour noise on top."""
    from alexnet.data.loading.on_device import SquaresPipeline, random_crop

    squares = torch.randint(0, 256, (8, 3, 37, 37), dtype=torch.uint8)
    for views in ("center", "ten_crop"):
        pipeline = SquaresPipeline("paper", 32, [0.5] * 3, [0.25] * 3, views)
        torch.testing.assert_close(pipeline(squares.to(CUDA), None).cpu(), pipeline(squares, None))
    crops = random_crop(squares.to(CUDA), 32, torch.Generator(CUDA).manual_seed(0)).cpu()
    for square, crop in zip(squares, crops, strict=True):
        windows = [square[:, y : y + 32, x : x + 32] for y in range(6) for x in range(6)]
        assert any(torch.equal(crop, w) or torch.equal(crop, w.flip(-1)) for w in windows)


def test_jpeg_shards_decode_on_the_gpu_as_on_the_cpu(tmp_path):
    """nvJPEG's decode of a batch of JPEG squares from a prepared split: the CPU's shape
    and dtype, the pixels within torchvision's own bound for it (a mean absolute
    difference under 2 levels an image, its test_decode_jpeg_cuda)."""
    from alexnet.data import ImageFolderDataModule
    from alexnet.data.loading.on_device import to_device
    from fixtures import write_class_tree

    photos = write_class_tree(tmp_path / "photos", ["cat", "dog"], 8)
    datamodule = ImageFolderDataModule(
        root=str(photos),
        preset="paper",
        image_size=32,
        num_workers=0,
        prepared={
            "use": True,
            "dir": str(tmp_path / "prepared"),
            "shard_images": 4,
            "jpeg_quality": 90,
        },
    )
    datamodule.setup()
    split = datamodule.train_set
    split.decode_here = False  # the files, as DeviceBatches hands them to a CUDA device
    files, _ = split(list(range(len(split))))
    on_gpu, on_cpu = to_device(files, CUDA), to_device(files, torch.device("cpu"))
    assert on_gpu.device.type == "cuda" and on_gpu.dtype == on_cpu.dtype == torch.uint8
    assert on_gpu.shape == on_cpu.shape == (len(split), 3, 37, 37)
    difference = (on_gpu.cpu().float() - on_cpu.float()).abs().mean(dim=(1, 2, 3))
    assert difference.max() < 2, difference
