# CMMP (cross-modal message passing): stage 2 variants, their scores, Table 1 and Table 2.
# Stage 1 is the two-stream baseline of streams.smk (models/{dataset}/split{split}/{rgb,flow}.pt).


rule cmmp_train:
    input:
        index="results/{dataset}/shards.csv",
        rgb="models/{dataset}/split{split}/rgb.pt",
        flow="models/{dataset}/split{split}/flow.pt",
    output:
        "models/{dataset}/split{split}/cmmp-{variant}.pt",
    log:
        "logs/cmmp_train/{dataset}/split{split}_{variant}.log",
    conda:
        "../../envs/twostream.yaml"
    threads: workflow.cores
    resources:
        **train_resources(),
    params:
        launcher=TRAIN,
        segments=config["train"]["segments"],
        length=config["train"].get("length", 5),
        workers=config["train"].get("workers", 0),
        speed=speed_args(training=True),
        device=config["train"].get("device", "auto"),
        crop=lambda w: ds(w)["crop"],
        hflip=lambda w: "--hflip" if ds(w).get("hflip", True) else "--no-hflip",
        batch=CMMP["batch_size"],
        lr=CMMP["lr"],
        length_arg=(
            f"--iterations {CMMP['iterations']}"
            if "iterations" in CMMP
            else f"--epochs {CMMP['epochs']}"
        ),
        lr_steps=" ".join(map(str, CMMP.get("lr_steps", []))),
        weight_decay=CMMP.get("weight_decay", 5e-4),
        per_sample=(
            "--per-sample" if CMMP.get("per_sample_al", True) else "--no-per-sample"
        ),
        seed=config["seed"],
        code=code("cmmp-train"),
    shell:
        "{params.launcher} cmmp-train --index {input.index} --split {wildcards.split}"
        " --variant {wildcards.variant} --rgb {input.rgb} --flow {input.flow} {params.per_sample}"
        " --segments {params.segments} --length {params.length} --crop {params.crop} {params.hflip}"
        " --batch-size {params.batch} --workers {params.workers} {params.speed} --device {params.device} --lr {params.lr}"
        " {params.length_arg} --lr-steps {params.lr_steps} --weight-decay {params.weight_decay}"
        " --seed {params.seed} --threads {threads} --out {output} > {log} 2>&1"


rule evaluate_cmmp:
    input:
        index="results/{dataset}/shards.csv",
        model="models/{dataset}/split{split}/cmmp-{variant}.pt",
    output:
        "results/{dataset}/split{split}/scores/cmmp-{variant}.npz",
    log:
        "logs/evaluate_cmmp/{dataset}/split{split}_{variant}.log",
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
        scorer=code_version("twostream.train.cmmp"),
    shell:
        "python -m twostream evaluate --index {input.index} --split {wildcards.split} --model {input.model}"
        " --segments {params.segments} --crops {params.crops} --length {params.length} --crop {params.crop}"
        " {params.hflip} --batch-size {params.batch} --device {params.device} {params.speed} --threads {threads} --out {output} > {log} 2>&1"


rule cmmp_table1:
    input:
        lambda w: expand(
            "results/{dataset}/split{split}/scores/cmmp-{variant}.npz",
            dataset=w.dataset,
            split=cmmp_table1_split(w.dataset),
            variant=CMMP["variants"],
        ),
    output:
        csv=report(
            "results/{dataset}/cmmp_table1.csv",
            caption="../report/cmmp_table1.rst",
            category="CMMP",
            subcategory="{dataset}",
        ),
        md="results/{dataset}/cmmp_table1.md",
    log:
        "logs/cmmp_table1/{dataset}.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        split=lambda w: cmmp_table1_split(w.dataset),
        variants=" ".join(CMMP["variants"]),
        weights=" ".join(map(str, CMMP.get("fusion_weights", [1, 1]))),
        note=f"Test: {config['eval']['test_segments']} segments x {config['eval']['crops']} crops.",
        code=code("cmmp-tables"),
    shell:
        "python -m twostream cmmp-tables table1 --dataset {wildcards.dataset} --split {params.split}"
        " --variants {params.variants} --scores {input} --weights {params.weights} --note '{params.note}'"
        " --out {output.csv} > {log} 2>&1"


rule cmmp_table2:
    input:
        rgb=[f"results/{n}/split{k}/scores/rgb.npz" for n, _, k in cmmp_runs()],
        flow=[f"results/{n}/split{k}/scores/flow.npz" for n, _, k in cmmp_runs()],
        cmmp=[f"results/{n}/split{k}/scores/cmmp-cmmp.npz" for n, _, k in cmmp_runs()],
        conv_fusion=(
            [f"results/{n}/split{k}/scores/conv_fusion.npz" for n, _, k in cmmp_runs()]
            if CONV is not None
            else []
        ),
    output:
        csv=report(
            "results/cmmp_table2.csv",
            caption="../report/cmmp_table2.rst",
            category="CMMP",
        ),
        md="results/cmmp_table2.md",
    log:
        "logs/cmmp_table2.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        runs=" ".join(f"{n}:{kind}:{k}" for n, kind, k in cmmp_runs()),
        conv_fusion=lambda w, input: (
            f"--conv-fusion {' '.join(input.conv_fusion)}" if input.conv_fusion else ""
        ),
        two_stream_weights=" ".join(
            map(str, config["eval"].get("fusion_weights", [1, 1]))
        ),
        weights=" ".join(map(str, CMMP.get("fusion_weights", [1, 1]))),
        note=f"Test: {config['eval']['test_segments']} segments x {config['eval']['crops']} crops.",
        code=code("cmmp-tables"),
    shell:
        "python -m twostream cmmp-tables table2 --runs {params.runs} --rgb {input.rgb} --flow {input.flow}"
        " --cmmp {input.cmmp} {params.conv_fusion} --two-stream-weights {params.two_stream_weights} --weights {params.weights}"
        " --note '{params.note}' --out {output.csv} > {log} 2>&1"
