# CMA (cross-modality attention): iterations, their scores, Table 1, Table 2 and figures.
# Iteration 0 is stage 1 (stream.smk), reused: the two streams and their scores. Iteration 1
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
        spec=spec(specs.CMASpec),
        code=code("train", "cma"),
    shell:
        "{params.launcher} train --kind cma --spec {params.spec:q} --index {input.index} --split {wildcards.split}"
        " --init {input.init} --threads {threads} --out {output} > {log} 2>&1"


use rule evaluate_stream as evaluate_cma with:
    input:
        index="results/{dataset}/shards.csv",
        model="models/{dataset}/split{split}/cma/iter{iteration}.pt",
    output:
        "results/{dataset}/split{split}/scores/cma/iter{iteration}.npz",
    log:
        "logs/evaluate_cma/{dataset}/split{split}_iter{iteration}.log",
    params:
        code=code("evaluate", "cma"),


rule cma_tables:
    input:
        rgb=cma_stage1("scores", "rgb"),
        flow=cma_stage1("scores", "flow"),
        iterations=cma_scores,
        rgb_model=cma_stage1("model", "rgb"),
        flow_model=cma_stage1("model", "flow"),
        cma_model=lambda w: f"models/{w.dataset}/split{first_split(w.dataset)}/cma/iter1.pt",
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
        split=lambda w: first_split(w.dataset),
        spec=spec(specs.CMATablesSpec),
        code=code("cma-tables"),
    shell:
        "python -m twostream cma-tables --spec {params.spec:q} --dataset {wildcards.dataset} --split {params.split}"
        " --rgb {input.rgb} --flow {input.flow} --iterations {input.iterations}"
        " --rgb-model {input.rgb_model} --flow-model {input.flow_model} --cma-model {input.cma_model}"
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
        split=lambda w: first_split(w.dataset),
        spec=spec(specs.CMAFusionFigureSpec),
        code=code("cma-figures"),
    shell:
        "python -m twostream cma-figures fusion --spec {params.spec:q} --dataset {wildcards.dataset}"
        " --split {params.split} --rgb {input.rgb} --flow {input.flow} --iterations {input.iterations}"
        " --out {output.figure} > {log} 2>&1"


rule cma_attention_figure:
    input:
        index="results/{dataset}/shards.csv",
        model=lambda w: f"models/{w.dataset}/split{first_split(w.dataset)}/cma/iter1.pt",
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
        split=lambda w: first_split(w.dataset),
        spec=spec(specs.CMAAttentionFigureSpec),
        code=code("cma-figures"),
    shell:
        "python -m twostream cma-figures attention --spec {params.spec:q} --index {input.index}"
        " --split {params.split} --model {input.model} --threads {threads} --out {output} > {log} 2>&1"
