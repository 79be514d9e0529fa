# Data: synthetic generation, ingest, flow + pack in chunks, shard index. Paths: twostream.paths.


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
        current=current(lambda w: paths.index(config, w.dataset)),
        code=code("index"),
    shell:
        "python -m twostream index --dataset {wildcards.dataset:q} --manifest {input.manifest:q}"
        " --ingest-failures {input.failures:q} --chunks {input.chunks:q} --out {output.index:q}"
        " --failures {output.failures:q} 2> {log:q} | tee -a {log:q}"
