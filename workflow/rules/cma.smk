# CMA (cross-modality attention): iterations, their scores, Table 1, Table 2 and figures.
# Iteration 0 is stage 1 (stream.smk), reused: the two streams and their scores. Iteration 1
# starts from the stage-1 flow stream, iteration n from iteration n-1. Tables and figures use
# each dataset's first configured split, so iterations are trained for that split only.


rule cma_train:
    input:
        index=training_index,
        init=cma_init,
        weights=weights,
    output:
        "models/{dataset}/{data}/cma-{key}/split{split}/iter{iteration}.pt",
    log:
        "logs/cma_train/{dataset}/{data}/cma-{key}/split{split}/iter{iteration}.log",
    wildcard_constraints:
        iteration=r"[1-9]\d*",
    priority: 1  # the chain of iterations is the run's longest path: each starts as soon as it can
    conda:
        "../../envs/twostream.yaml"
    threads: job_threads(TRAIN_GPUS)
    resources:
        **train_resources(),
    params:
        threads=torch_threads(TRAIN_GPUS),
        launcher=TRAIN,
        spec=spec(specs.CMASpec),
        current=current(
            lambda w: paths.cma_model(
                config, w.dataset, int(w.split), int(w.iteration)
            )
        ),
        code=code("train", "cma"),
    shell:
        ": > {log:q}; {params.launcher} train --kind cma --spec {params.spec:q} --index {input.index:q} --split {wildcards.split:q}"
        " --init {input.init:q} --threads {params.threads} --out {output:q} 2>> {log:q} | tee -a {log:q}"


use rule evaluate_stream as evaluate_cma with:
    input:
        index="results/{dataset}/{data}/shards.csv",
        model="models/{dataset}/{data}/cma-{key}/split{split}/iter{iteration}.pt",
    output:
        "results/{dataset}/{data}/{scores}/cma-{key}/split{split}/iter{iteration}.npz",
    log:
        "logs/evaluate_cma/{dataset}/{data}/{scores}/cma-{key}/split{split}/iter{iteration}.log",
    params:
        current=current(
            lambda w: scores(
                w.dataset,
                paths.cma_model(config, w.dataset, int(w.split), int(w.iteration)),
            )
        ),
        code=code("evaluate", "cma"),


rule cma_tables:
    input:
        rgb=cma_stage1("scores", "rgb"),
        flow=cma_stage1("scores", "flow"),
        iterations=cma_scores,
        rgb_model=cma_stage1("model", "rgb"),
        flow_model=cma_stage1("model", "flow"),
        cma_model=lambda w: paths.cma_model(
            config, w.dataset, first_split(w.dataset), 1
        ),
    output:
        table1=report(
            "results/{run}/{dataset}/cma_table1.csv",
            caption="../report/cma_table1.rst",
            category="CMA",
            subcategory="{dataset}",
        ),
        table1_md="results/{run}/{dataset}/cma_table1.md",
        table2=report(
            "results/{run}/{dataset}/cma_table2.csv",
            caption="../report/cma_table2.rst",
            category="CMA",
            subcategory="{dataset}",
        ),
        table2_md="results/{run}/{dataset}/cma_table2.md",
    log:
        "logs/cma_tables/{run}/{dataset}.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        split=lambda w: first_split(w.dataset),
        spec=spec(specs.CMATablesSpec),
        code=code("cma-tables"),
    shell:
        "python -m twostream cma-tables --spec {params.spec:q} --dataset {wildcards.dataset:q} --split {params.split}"
        " --rgb {input.rgb:q} --flow {input.flow:q} --iterations {input.iterations:q}"
        " --rgb-model {input.rgb_model:q} --flow-model {input.flow_model:q} --cma-model {input.cma_model:q}"
        " --table1 {output.table1:q} --table2 {output.table2:q} > {log:q} 2>&1"


rule cma_fusion_figure:
    input:
        rgb=cma_stage1("scores", "rgb"),
        flow=cma_stage1("scores", "flow"),
        iterations=cma_scores,
    output:
        figure=report(
            "results/{run}/{dataset}/cma_fusion_weights.png",
            caption="../report/cma_fusion_weights.rst",
            category="CMA",
            subcategory="{dataset}",
        ),
        numbers="results/{run}/{dataset}/cma_fusion_weights.csv",
    log:
        "logs/cma_fusion_figure/{run}/{dataset}.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        split=lambda w: first_split(w.dataset),
        spec=spec(specs.CMAFusionFigureSpec),
        code=code("cma-figures"),
    shell:
        "python -m twostream cma-figures fusion --spec {params.spec:q} --dataset {wildcards.dataset:q}"
        " --split {params.split} --rgb {input.rgb:q} --flow {input.flow:q} --iterations {input.iterations:q}"
        " --out {output.figure:q} > {log:q} 2>&1"


rule cma_attention_figure:
    input:
        index=index,
        model=lambda w: paths.cma_model(config, w.dataset, first_split(w.dataset), 1),
    output:
        report(
            "results/{run}/{dataset}/cma_attention.png",
            caption="../report/cma_attention.rst",
            category="CMA",
            subcategory="{dataset}",
        ),
    log:
        "logs/cma_attention_figure/{run}/{dataset}.log",
    conda:
        "../../envs/twostream.yaml"
    threads: job_threads()
    resources:
        gpu=1 if GPUS else 0,
    params:
        threads=torch_threads(),
        split=lambda w: first_split(w.dataset),
        spec=spec(specs.CMAAttentionFigureSpec),
        code=code("cma-figures"),
    shell:
        "python -m twostream cma-figures attention --spec {params.spec:q} --index {input.index:q}"
        " --split {params.split} --model {input.model:q} --threads {params.threads} --out {output:q} > {log:q} 2>&1"
