# The labels of the last run, checked against the config when they came from its data section.


def labels_from_last_run():
    """results/data/labels.json when extract_labels made it from this config's data section (recorded in
    extract_report.json) and no input file changed since; labels of other data say nothing of this config."""
    labels, report = Path(DATA) / "labels.json", Path(DATA) / "extract_report.json"
    if not labels.exists() or not report.exists():
        return None
    if any(Path(p).exists() and Path(p).stat().st_mtime > labels.stat().st_mtime for p in raw_inputs(None)):
        return None
    if read_last_run(report).get("data_section") != section(config["data"]):
        return None
    return read_last_run(labels)


check_writable("results")
if config["data"]["labels"]:
    check_against_labels(config, config["data"]["labels"], "data.labels")
elif labels_from_last_run() is not None:
    check_against_labels(
        config, labels_from_last_run(), "results/data/labels.json of the last run, made from this data section"
    )
