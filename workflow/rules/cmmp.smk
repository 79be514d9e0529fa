# CMMP (cross-modal message passing): stage 2 variants, their scores, Table 1 and Table 2.
# Stage 1 is the two-stream baseline of stream.smk (its rgb and flow streams of the same split).


rule cmmp_train:
    input:
        index=training_index,
        rgb=lambda w: stream(w.dataset, "rgb", int(w.split)),
        flow=lambda w: stream(w.dataset, "flow", int(w.split)),
    output:
        "models/{dataset}/{data}/cmmp-{key}/split{split}/{variant}.pt",
    log:
        "logs/cmmp_train/{dataset}/{data}/cmmp-{key}/split{split}/{variant}.log",
    conda:
        "../../envs/twostream.yaml"
    threads: job_threads(TRAIN_GPUS)
    resources:
        **train_resources(),
    params:
        threads=torch_threads(TRAIN_GPUS),
        launcher=TRAIN,
        spec=spec(specs.CMMPSpec),
        current=current(
            lambda w: paths.cmmp_model(config, w.dataset, int(w.split), w.variant)
        ),
        code=code("train", "cmmp"),
    shell:
        ": > {log:q}; {params.launcher} train --kind cmmp --spec {params.spec:q} --index {input.index:q} --split {wildcards.split:q}"
        " --init {input.rgb:q} {input.flow:q} --threads {params.threads} --out {output:q} 2>> {log:q} | tee -a {log:q}"


use rule evaluate_stream as evaluate_cmmp with:
    input:
        index="results/{dataset}/{data}/shards.csv",
        model="models/{dataset}/{data}/cmmp-{key}/split{split}/{variant}.pt",
    output:
        "results/{dataset}/{data}/{scores}/cmmp-{key}/split{split}/{variant}.npz",
    log:
        "logs/evaluate_cmmp/{dataset}/{data}/{scores}/cmmp-{key}/split{split}/{variant}.log",
    params:
        current=current(lambda w: cmmp_scores(w.dataset, int(w.split), w.variant)),
        code=code("evaluate", "cmmp"),


rule cmmp_table1:
    input:
        lambda w: [
            cmmp_scores(w.dataset, first_split(w.dataset), v) for v in CMMP["variants"]
        ],
    output:
        csv=report(
            "results/{run}/{dataset}/cmmp_table1.csv",
            caption="../report/cmmp_table1.rst",
            category="CMMP",
            subcategory="{dataset}",
        ),
        md="results/{run}/{dataset}/cmmp_table1.md",
    log:
        "logs/cmmp_table1/{run}/{dataset}.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        split=lambda w: first_split(w.dataset),
        variants=" ".join(CMMP["variants"]),
        spec=spec(specs.CMMPTable1Spec),
        code=code("cmmp-tables"),
    shell:
        "python -m twostream cmmp-tables table1 --spec {params.spec:q} --dataset {wildcards.dataset:q}"
        " --split {params.split} --variants {params.variants} --scores {input:q} --out {output.csv:q} > {log:q} 2>&1"


rule cmmp_table2:
    input:
        rgb=[scores(n, stream(n, "rgb", k)) for n, _, k in cmmp_runs()],
        flow=[scores(n, stream(n, "flow", k)) for n, _, k in cmmp_runs()],
        cmmp=[cmmp_scores(n, k, "cmmp") for n, _, k in cmmp_runs()],
        conv_fusion=(
            [
                scores(n, paths.conv_fusion_model(config, n, k))
                for n, _, k in cmmp_runs()
            ]
            if CONV is not None
            else []
        ),
    output:
        csv=report(
            "results/{run}/cmmp_table2.csv",
            caption="../report/cmmp_table2.rst",
            category="CMMP",
        ),
        md="results/{run}/cmmp_table2.md",
    log:
        "logs/cmmp_table2/{run}.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        runs=" ".join(f"{n}:{kind}:{k}" for n, kind, k in cmmp_runs()),
        conv_fusion=lambda w, input: (
            f"--conv-fusion {' '.join(map(shlex.quote, input.conv_fusion))}"
            if input.conv_fusion
            else ""
        ),
        spec=spec(specs.CMMPTable2Spec),
        code=code("cmmp-tables"),
    shell:
        "python -m twostream cmmp-tables table2 --spec {params.spec:q} --runs {params.runs} --rgb {input.rgb:q}"
        " --flow {input.flow:q} --cmmp {input.cmmp:q} {params.conv_fusion} --out {output.csv:q} > {log:q} 2>&1"
