# Data: synthetic generation, ingest, flow + pack in chunks (or a rawframes import), shard index. Paths:
# twostream.paths.


rule synthetic:
    output:
        directory("data/{dataset}/{generator}"),
    log:
        "logs/synthetic/{dataset}/{generator}.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        spec=spec(specs.SyntheticSpec),
        code=code("synthetic"),
    shell:
        "python -m twostream synthetic --spec {params.spec:q} --out {output:q} > {log:q} 2>&1"


checkpoint ingest:
    input:
        ingest_inputs,
    output:
        manifest="results/{dataset}/{source}/manifest.csv",
        failures="results/{dataset}/{source}/ingest_failures.csv",
    log:
        "logs/ingest/{dataset}/{source}.log",
    wildcard_constraints:
        dataset=sourced("videos"),
    conda:
        "../../envs/twostream.yaml"
    threads: workflow.cores
    params:
        source=ingest_args,
        current=current(lambda w: paths.manifest(config, w.dataset)),
        code=code("ingest"),
    shell:
        "python -m twostream ingest {params.source} --workers {threads}"
        " --out {output.manifest:q} --failures {output.failures:q} 2> {log:q} | tee -a {log:q}"


rule extract:
    input:
        manifest=manifest,
    output:
        "results/{dataset}/{data}/chunks/{chunk}.csv",
    log:
        "logs/extract/{dataset}/{data}/{chunk}.log",
    wildcard_constraints:
        dataset=sourced("videos"),
    conda:
        "../../envs/twostream.yaml"
    threads: max(1, workflow.cores // GPUS) if GPUS else 1
    resources:
        gpu=1 if GPUS else 0,
    params:
        chunk=lambda w: int(w.chunk),
        shards=lambda w: paths.shards_dir(config, w.dataset),
        spec=spec(specs.ExtractSpec),
        current=current(
            lambda w: f"{paths.data(config, w.dataset)}/chunks/{w.chunk}.csv"
        ),
        code=code("extract"),
    shell:
        ": > {log:q}; python -m twostream extract --spec {params.spec:q} --manifest {input.manifest:q}"
        " --chunk {params.chunk} --shards {params.shards:q} --threads {threads} --out {output:q} 2>> {log:q} | tee -a {log:q}"


checkpoint ingest_rawframes:
    input:
        ingest_inputs,
    output:
        manifest="results/{dataset}/{source}/manifest.csv",
        failures="results/{dataset}/{source}/ingest_failures.csv",
        naming="results/{dataset}/{source}/rawframes_naming.json",
    log:
        "logs/ingest/{dataset}/{source}.log",
    wildcard_constraints:
        dataset=sourced("rawframes"),
    conda:
        "../../envs/twostream.yaml"
    params:
        source=ingest_args,
        naming=rawframes_naming_args,
        current=current(lambda w: paths.manifest(config, w.dataset)),
        code=code("ingest"),
    shell:
        "python -m twostream ingest {params.source} {params.naming} --rawframes {output.naming:q}"
        " --out {output.manifest:q} --failures {output.failures:q} 2> {log:q} | tee -a {log:q}"


rule import_rawframes:
    input:
        manifest=manifest,
        naming=rawframes_naming,
    output:
        "results/{dataset}/{data}/chunks/{chunk}.csv",
    log:
        "logs/import_rawframes/{dataset}/{data}/{chunk}.log",
    wildcard_constraints:
        dataset=sourced("rawframes"),
    conda:
        "../../envs/twostream.yaml"
    params:
        chunk=lambda w: int(w.chunk),
        shards=lambda w: paths.shards_dir(config, w.dataset),
        spec=spec(specs.ImportSpec),
        current=current(
            lambda w: f"{paths.data(config, w.dataset)}/chunks/{w.chunk}.csv"
        ),
        code=code("import-rawframes"),
    shell:
        "python -m twostream import-rawframes --spec {params.spec:q} --manifest {input.manifest:q}"
        " --naming {input.naming:q} --chunk {params.chunk} --shards {params.shards:q} --out {output:q} > {log:q} 2>&1"


rule index:
    input:
        manifest=manifest,
        failures=ingest_failures,
        chunks=chunk_indexes,
    output:
        index="results/{dataset}/{data}/shards.csv",
        failures="results/{dataset}/{data}/failures.csv",
    log:
        "logs/index/{dataset}/{data}.log",
    conda:
        "../../envs/twostream.yaml"
    params:
        stage=lambda w: "import" if ds(w)["source"] == "rawframes" else "flow+pack",
        current=current(lambda w: paths.index(config, w.dataset)),
        code=code("index"),
    shell:
        "python -m twostream index --dataset {wildcards.dataset:q} --manifest {input.manifest:q}"
        " --ingest-failures {input.failures:q} --chunks {input.chunks:q} --stage {params.stage}"
        " --out {output.index:q} --failures {output.failures:q} 2> {log:q} | tee -a {log:q}"
