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
        spec=spec(specs.StreamSpec),
        code=code("train", "stream"),
    shell:
        "{params.launcher} train --kind stream --spec {params.spec:q} --index {input.index}"
        " --split {wildcards.split} --threads {threads} --out {output} > {log} 2>&1"


# The one evaluate rule: every kind's .smk uses it for its models (`use rule ... with:` paths and its
# kind's code version); `twostream evaluate` scores a checkpoint of any kind (twostream.kinds).
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
        spec=spec(specs.EvaluateSpec),
        code=code("evaluate", "stream"),
    shell:
        "python -m twostream evaluate --spec {params.spec:q} --index {input.index} --split {wildcards.split}"
        " --model {input.model} --threads {threads} --out {output} > {log} 2>&1"


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
        spec=spec(specs.TwoStreamTableSpec),
        code=code("table"),
    shell:
        "python -m twostream table --spec {params.spec:q} --dataset {wildcards.dataset} --splits {params.splits}"
        " --rgb {input.rgb} --flow {input.flow} --out {output.csv} > {log} 2>&1"
