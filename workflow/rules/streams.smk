# Stage 1: each stream alone (the two-stream baseline; the flow stream is the flow pretraining
# that CMMP and CMA start from), its test scores, and the two-stream table.


rule train_stream:
    input:
        index="results/{dataset}/shards.csv",
    output:
        protected("models/{dataset}/split{split}/{modality}.pt"),
    log:
        "logs/train_stream/{dataset}/split{split}_{modality}.log",
    conda:
        "../../envs/twostream.yaml"
    threads: workflow.cores
    resources:
        **train_resources(),
    params:
        launcher=TRAIN,
        depth=config["model"]["depth"],
        pretrained=config["model"]["pretrained"],
        torch_home=config["model"].get("torch_home", ""),
        dropout=config["model"].get("dropout", 0.5),
        segments=config["train"]["segments"],
        length=config["train"].get("length", 5),
        batch=config["train"]["batch_size"],
        workers=config["train"].get("workers", 0),
        speed=speed_args(training=True),
        device=config["train"].get("device", "auto"),
        crop=lambda w: ds(w)["crop"],
        hflip=lambda w: "--hflip" if ds(w).get("hflip", True) else "--no-hflip",
        lr=lambda w: config["train"][w.modality]["lr"],
        epochs=lambda w: config["train"][w.modality]["epochs"],
        lr_steps=lambda w: " ".join(
            map(str, config["train"][w.modality].get("lr_steps", []))
        ),
        weight_decay=lambda w: config["train"][w.modality].get("weight_decay", 5e-4),
        clip_grad=lambda w: config["train"][w.modality].get("clip_grad", 0),
        seed=config["seed"],
        code=code("train"),
    shell:
        "{params.launcher} train --index {input.index} --split {wildcards.split}"
        " --modality {wildcards.modality} --depth {params.depth} --pretrained {params.pretrained}"
        " --torch-home '{params.torch_home}'"
        " --dropout {params.dropout} --segments {params.segments} --length {params.length}"
        " --crop {params.crop} {params.hflip} --batch-size {params.batch} --workers {params.workers} {params.speed}"
        " --device {params.device} --lr {params.lr} --epochs {params.epochs} --lr-steps {params.lr_steps}"
        " --weight-decay {params.weight_decay} --clip-grad {params.clip_grad} --seed {params.seed}"
        " --threads {threads} --out {output} > {log} 2>&1"


rule evaluate_stream:
    input:
        index="results/{dataset}/shards.csv",
        model="models/{dataset}/split{split}/{modality}.pt",
    output:
        "results/{dataset}/split{split}/scores/{modality}.npz",
    log:
        "logs/evaluate_stream/{dataset}/split{split}_{modality}.log",
    conda:
        "../../envs/twostream.yaml"
    threads: workflow.cores
    resources:
        gpu=1 if GPUS else 0,
    params:
        segments=config["eval"]["test_segments"],
        crops=config["eval"]["crops"],
        length=config["train"].get("length", 5),
        crop=lambda w: ds(w)["crop"],
        hflip=lambda w: "--hflip" if ds(w).get("hflip", True) else "--no-hflip",
        batch=config["eval"].get("batch_size", 1),
        device=config["train"].get("device", "auto"),
        speed=speed_args(training=False),
        code=code("evaluate"),
    shell:
        "python -m twostream evaluate --index {input.index} --split {wildcards.split} --model {input.model}"
        " --segments {params.segments} --crops {params.crops} --length {params.length} --crop {params.crop}"
        " {params.hflip} --batch-size {params.batch} --device {params.device} {params.speed} --threads {threads} --out {output} > {log} 2>&1"


rule two_stream_table:
    input:
        rgb=lambda w: expand(
            "results/{{dataset}}/split{split}/scores/rgb.npz", split=splits(w.dataset)
        ),
        flow=lambda w: expand(
            "results/{{dataset}}/split{split}/scores/flow.npz", split=splits(w.dataset)
        ),
    output:
        csv=report(
            "results/{dataset}/two_stream.csv",
            caption="../report/two_stream.rst",
            category="Two-stream",
            subcategory="{dataset}",
        ),
        md="results/{dataset}/two_stream.md",
    log:
        "logs/two_stream_table/{dataset}.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        splits=lambda w: " ".join(map(str, splits(w.dataset))),
        weights=" ".join(map(str, config["eval"].get("fusion_weights", [1, 1]))),
        note=f"Test: {config['eval']['test_segments']} segments x {config['eval']['crops']} crops.",
        code=code("table"),
    shell:
        "python -m twostream table --dataset {wildcards.dataset} --splits {params.splits}"
        " --rgb {input.rgb} --flow {input.flow} --weights {params.weights} --note '{params.note}'"
        " --out {output.csv} > {log} 2>&1"
