# CMA (cross-modality attention): iterations, their scores, Table 1, Table 2 and figures.
# Iteration 0 is stage 1 (streams.smk), reused: the two streams and their scores. Iteration 1
# starts from the stage-1 flow stream, iteration n from iteration n-1. Tables and figures use
# each dataset's first configured split, so iterations are trained for that split only.


rule cma_train:
    input:
        index="results/{dataset}/shards.csv",
        init=cma_init,
    output:
        "models/{dataset}/split{split}/cma/iter{iteration}.pt",
    log:
        "logs/cma_train/{dataset}/split{split}_iter{iteration}.log",
    wildcard_constraints:
        iteration=r"[1-9]\d*",
    conda:
        "../../envs/twostream.yaml"
    threads: workflow.cores
    resources:
        **train_resources(),
    params:
        launcher=TRAIN,
        pretrained=config["model"]["pretrained"],
        torch_home=config["model"].get("torch_home", ""),
        nonlocal_rgb=lambda w: "--nonlocal" if CMA["nonlocal"] else "--no-nonlocal",
        dropout=cma_param("dropout"),
        segments=config["train"]["segments"],
        length=config["train"].get("length", 5),
        batch=cma_param("batch_size"),
        workers=config["train"].get("workers", 0),
        speed=speed_args(training=True),
        device=config["train"].get("device", "auto"),
        crop=lambda w: ds(w)["crop"],
        hflip=lambda w: "--hflip" if ds(w).get("hflip", True) else "--no-hflip",
        lr=cma_param("lr"),
        epochs=cma_param("epochs"),
        lr_steps=cma_param("lr_steps"),
        plateau=cma_param("plateau_patience"),
        weight_decay=cma_param("weight_decay"),
        seed=config["seed"],
        code=code("cma-train"),
    shell:
        "{params.launcher} cma-train --index {input.index} --split {wildcards.split}"
        " --iteration {wildcards.iteration} --init {input.init} --pretrained {params.pretrained}"
        " --torch-home '{params.torch_home}'"
        " {params.nonlocal_rgb} --dropout {params.dropout} --segments {params.segments} --length {params.length}"
        " --crop {params.crop} {params.hflip} --batch-size {params.batch} --workers {params.workers} {params.speed}"
        " --device {params.device} --lr {params.lr} --epochs {params.epochs} --lr-steps {params.lr_steps}"
        " --plateau-patience {params.plateau} --weight-decay {params.weight_decay} --seed {params.seed}"
        " --threads {threads} --out {output} > {log} 2>&1"


rule evaluate_cma:
    input:
        index="results/{dataset}/shards.csv",
        model="models/{dataset}/split{split}/cma/iter{iteration}.pt",
    output:
        "results/{dataset}/split{split}/scores/cma/iter{iteration}.npz",
    log:
        "logs/evaluate_cma/{dataset}/split{split}_iter{iteration}.log",
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
        scorer=code_version("twostream.train.cma"),
    shell:
        "python -m twostream evaluate --index {input.index} --split {wildcards.split} --model {input.model}"
        " --segments {params.segments} --crops {params.crops} --length {params.length} --crop {params.crop}"
        " {params.hflip} --batch-size {params.batch} --device {params.device} {params.speed} --threads {threads} --out {output} > {log} 2>&1"


rule cma_tables:
    input:
        rgb=cma_stage1("scores", "rgb"),
        flow=cma_stage1("scores", "flow"),
        iterations=cma_scores,
        rgb_model=cma_stage1("model", "rgb"),
        flow_model=cma_stage1("model", "flow"),
        cma_model=lambda w: f"models/{w.dataset}/split{cma_split(w.dataset)}/cma/iter1.pt",
    output:
        table1=report(
            "results/{dataset}/cma_table1.csv",
            caption="../report/cma_table1.rst",
            category="CMA",
            subcategory="{dataset}",
        ),
        table1_md="results/{dataset}/cma_table1.md",
        table2=report(
            "results/{dataset}/cma_table2.csv",
            caption="../report/cma_table2.rst",
            category="CMA",
            subcategory="{dataset}",
        ),
        table2_md="results/{dataset}/cma_table2.md",
    log:
        "logs/cma_tables/{dataset}.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        split=lambda w: cma_split(w.dataset),
        odd=cma_param("fusion", "odd"),
        even=cma_param("fusion", "even"),
        baseline=cma_param("fusion", "baseline"),
        note=f"Test: {config['eval']['test_segments']} segments x {config['eval']['crops']} crops.",
        code=code("cma-tables"),
    shell:
        "python -m twostream cma-tables --dataset {wildcards.dataset} --split {params.split}"
        " --rgb {input.rgb} --flow {input.flow} --iterations {input.iterations}"
        " --rgb-model {input.rgb_model} --flow-model {input.flow_model} --cma-model {input.cma_model}"
        " --odd {params.odd} --even {params.even} --baseline {params.baseline} --note '{params.note}'"
        " --table1 {output.table1} --table2 {output.table2} > {log} 2>&1"


rule cma_fusion_figure:
    input:
        rgb=cma_stage1("scores", "rgb"),
        flow=cma_stage1("scores", "flow"),
        iterations=cma_scores,
    output:
        figure=report(
            "results/{dataset}/cma_fusion_weights.png",
            caption="../report/cma_fusion_weights.rst",
            category="CMA",
            subcategory="{dataset}",
        ),
        numbers="results/{dataset}/cma_fusion_weights.csv",
    log:
        "logs/cma_fusion_figure/{dataset}.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        split=lambda w: cma_split(w.dataset),
        weights=cma_param("figures", "weights"),
        code=code("cma-figures"),
    shell:
        "python -m twostream cma-figures fusion --dataset {wildcards.dataset} --split {params.split}"
        " --rgb {input.rgb} --flow {input.flow} --iterations {input.iterations} --weights {params.weights}"
        " --out {output.figure} > {log} 2>&1"


rule cma_attention_figure:
    input:
        index="results/{dataset}/shards.csv",
        model=lambda w: f"models/{w.dataset}/split{cma_split(w.dataset)}/cma/iter1.pt",
    output:
        report(
            "results/{dataset}/cma_attention.png",
            caption="../report/cma_attention.rst",
            category="CMA",
            subcategory="{dataset}",
        ),
    log:
        "logs/cma_attention_figure/{dataset}.log",
    conda:
        "../../envs/twostream.yaml"
    threads: workflow.cores
    resources:
        gpu=1 if GPUS else 0,
    params:
        split=lambda w: cma_split(w.dataset),
        crop=lambda w: ds(w)["crop"],
        videos=cma_param("figures", "videos"),
        queries=cma_param("figures", "queries"),
        device=config["train"].get("device", "auto"),
        code=code("cma-figures"),
    shell:
        "python -m twostream cma-figures attention --index {input.index} --split {params.split}"
        " --model {input.model} --crop {params.crop} --videos {params.videos} --queries {params.queries}"
        " --device {params.device} --threads {threads} --out {output} > {log} 2>&1"
