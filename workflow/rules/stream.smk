# Stage 1: each stream alone (the two-stream baseline; the flow stream is the flow pretraining
# that CMMP and CMA start from), its test scores, and the two-stream table.


rule train_stream:
    input:
        index=training_index,
        weights=weights,
    output:
        protected("models/{dataset}/{data}/{modality}-{key}/split{split}.pt"),
    log:
        "logs/train_stream/{dataset}/{data}/{modality}-{key}/split{split}.log",
    conda:
        "../../envs/twostream.yaml"
    threads: job_threads(TRAIN_GPUS)
    resources:
        **train_resources(),
    params:
        threads=torch_threads(TRAIN_GPUS),
        launcher=TRAIN,
        spec=spec(specs.StreamSpec),
        current=current(lambda w: stream(w.dataset, w.modality, int(w.split))),
        code=code("train", "stream"),
    shell:
        ": > {log:q}; {params.launcher} train --kind stream --spec {params.spec:q} --index {input.index:q}"
        " --split {wildcards.split:q} --threads {params.threads} --out {output:q} 2>> {log:q} | tee -a {log:q}"


# The one evaluate rule: every kind's .smk uses it for its models (`use rule ... with:` paths and its
# kind's code version); `twostream evaluate` scores a checkpoint of any kind (twostream.kinds). A model's
# scores mirror its path under models/<dataset>/<data>/ (twostream.paths).
rule evaluate_stream:
    input:
        index="results/{dataset}/{data}/shards.csv",
        model="models/{dataset}/{data}/{modality}-{key}/split{split}.pt",
    output:
        "results/{dataset}/{data}/{scores}/{modality}-{key}/split{split}.npz",
    log:
        "logs/evaluate_stream/{dataset}/{data}/{scores}/{modality}-{key}/split{split}.log",
    conda:
        "../../envs/twostream.yaml"
    threads: job_threads()
    resources:
        gpu=1 if GPUS else 0,
    params:
        threads=torch_threads(),
        spec=spec(specs.EvaluateSpec),
        current=current(
            lambda w: scores(w.dataset, stream(w.dataset, w.modality, int(w.split)))
        ),
        code=code("evaluate", "stream"),
    shell:
        "python -m twostream evaluate --spec {params.spec:q} --index {input.index:q} --split {wildcards.split:q}"
        " --model {input.model:q} --threads {params.threads} --out {output:q} > {log:q} 2>&1"


rule two_stream_table:
    input:
        rgb=lambda w: [
            scores(w.dataset, stream(w.dataset, "rgb", k)) for k in splits(w.dataset)
        ],
        flow=lambda w: [
            scores(w.dataset, stream(w.dataset, "flow", k)) for k in splits(w.dataset)
        ],
    output:
        csv=report(
            "results/{run}/{dataset}/two_stream.csv",
            caption="../report/two_stream.rst",
            category="Two-stream",
            subcategory="{dataset}",
        ),
        md="results/{run}/{dataset}/two_stream.md",
    log:
        "logs/two_stream_table/{run}/{dataset}.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        splits=lambda w: " ".join(map(str, splits(w.dataset))),
        spec=spec(specs.TwoStreamTableSpec),
        code=code("table"),
    shell:
        "python -m twostream table --spec {params.spec:q} --dataset {wildcards.dataset:q} --splits {params.splits}"
        " --rgb {input.rgb:q} --flow {input.flow:q} --out {output.csv:q} > {log:q} 2>&1"
