# Conv fusion (Feichtenhofer et al., 2016), the positive control, and the fusion baselines table.
# Trained from the stage-1 streams on each dataset's first split; scored by the one test protocol.


rule conv_fusion_train:
    input:
        index="results/{dataset}/shards.csv",
        rgb="models/{dataset}/split{split}/rgb.pt",
        flow="models/{dataset}/split{split}/flow.pt",
    output:
        "models/{dataset}/split{split}/conv_fusion.pt",
    log:
        "logs/conv_fusion_train/{dataset}/split{split}.log",
    conda:
        "../../envs/twostream.yaml"
    threads: workflow.cores
    resources:
        **train_resources(),
    params:
        launcher=TRAIN,
        stage=CONV["stage"],
        segments=config["train"]["segments"],
        length=config["train"]["length"],
        workers=config["train"]["workers"],
        device=config["train"]["device"],
        speed=speed_args(training=True),
        crop=lambda w: ds(w)["crop"],
        hflip=lambda w: "--hflip" if ds(w)["hflip"] else "--no-hflip",
        batch=CONV["batch_size"],
        lr=CONV["lr"],
        epochs=CONV["epochs"],
        lr_steps=" ".join(map(str, CONV["lr_steps"])),
        weight_decay=CONV["weight_decay"],
        seed=config["seed"],
        code=code("conv-fusion-train"),
    shell:
        "{params.launcher} conv-fusion-train --index {input.index} --split {wildcards.split}"
        " --rgb {input.rgb} --flow {input.flow} --stage {params.stage}"
        " --segments {params.segments} --length {params.length} --crop {params.crop} {params.hflip}"
        " --batch-size {params.batch} --workers {params.workers} {params.speed} --device {params.device} --lr {params.lr}"
        " --epochs {params.epochs} --lr-steps {params.lr_steps} --weight-decay {params.weight_decay}"
        " --seed {params.seed} --threads {threads} --out {output} > {log} 2>&1"


rule evaluate_conv_fusion:
    input:
        index="results/{dataset}/shards.csv",
        model="models/{dataset}/split{split}/conv_fusion.pt",
    output:
        "results/{dataset}/split{split}/scores/conv_fusion.npz",
    log:
        "logs/evaluate_conv_fusion/{dataset}/split{split}.log",
    conda:
        "../../envs/twostream.yaml"
    threads: workflow.cores
    resources:
        gpu=1 if GPUS else 0,
    params:
        segments=config["eval"]["test_segments"],
        crops=config["eval"]["crops"],
        length=config["train"]["length"],
        crop=lambda w: ds(w)["crop"],
        hflip=lambda w: "--hflip" if ds(w)["hflip"] else "--no-hflip",
        batch=config["eval"]["batch_size"],
        device=config["train"]["device"],
        speed=speed_args(training=False),
        code=code("evaluate"),
        scorer=code_version("twostream.train.conv_fusion"),
    shell:
        "python -m twostream evaluate --index {input.index} --split {wildcards.split} --model {input.model}"
        " --segments {params.segments} --crops {params.crops} --length {params.length} --crop {params.crop}"
        " {params.hflip} --batch-size {params.batch} --device {params.device} {params.speed} --threads {threads}"
        " --out {output} > {log} 2>&1"


rule fusion_baselines:
    input:
        unpack(fusion_baselines_inputs),
    output:
        csv=report(
            "results/{dataset}/fusion_baselines.csv",
            caption="../report/fusion_baselines.rst",
            category="Fusion baselines",
            subcategory="{dataset}",
        ),
        md="results/{dataset}/fusion_baselines.md",
    log:
        "logs/fusion_baselines/{dataset}.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        split=lambda w: conv_fusion_split(w.dataset),
        weights=" ".join(map(str, config["eval"]["fusion_weights"])),
        optional=fusion_baselines_args,
        directions=lambda w: (
            ds(w)["synthetic"]["directions"] if ds(w)["kind"] == "synthetic" else 0
        ),
        note=f"Test: {config['eval']['test_segments']} segments x {config['eval']['crops']} crops.",
        code=code("fusion-baselines"),
    shell:
        "python -m twostream fusion-baselines --dataset {wildcards.dataset} --split {params.split}"
        " --rgb {input.rgb} --flow {input.flow} --weights {params.weights} --conv-fusion {input.conv_fusion}"
        " {params.optional} --directions {params.directions} --note '{params.note}'"
        " --out {output.csv} > {log} 2>&1"
