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
        "python -m twostream synthetic --spec {params.spec:q} --out {output} > {log} 2>&1"


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
        " --out {output.manifest} --failures {output.failures} > {log} 2>&1"


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
        ": > {log}; python -m twostream extract --spec {params.spec:q} --manifest {input.manifest}"
        " --chunk {params.chunk} --shards {params.shards} --threads {threads} --out {output} 2>> {log} | tee -a {log}"


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
        "python -m twostream ingest {params.source} {params.naming} --rawframes {output.naming}"
        " --out {output.manifest} --failures {output.failures} > {log} 2>&1"


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
        "python -m twostream import-rawframes --spec {params.spec:q} --manifest {input.manifest}"
        " --naming {input.naming} --chunk {params.chunk} --shards {params.shards} --out {output} > {log} 2>&1"


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
        "python -m twostream index --manifest {input.manifest} --ingest-failures {input.failures}"
        " --chunks {input.chunks} --stage {params.stage} --out {output.index} --failures {output.failures}"
        " > {log} 2>&1"
