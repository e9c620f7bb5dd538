//! Resources and the machine: thread count, memory, a read-only output
//! directory or filesystem, a full disk, and a baseline damaged where no
//! run reads it.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use crate::util::{words, Workdir};

/// A directory with generated people: `data.csv` (about 600 records)
/// split into `base.csv` and `new.csv`, readable by any user.
fn people() -> Workdir {
    let wd = Workdir::new();
    wd.ok(&words("synth -q --entities 250 --seed 8 -o data.csv --truth truth.csv"));
    wd.ok(&words("init -q data.csv -o def.toml"));
    let text = std::fs::read_to_string(wd.path("data.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let cut = lines.len() * 2 / 3;
    wd.write("base.csv", &(lines[..cut].join("\n") + "\n"));
    wd.write("new.csv", &(format!("{}\n{}\n", lines[0], lines[cut..].join("\n"))));
    for name in ["", "data.csv", "base.csv", "new.csv"] {
        let mode = if name.is_empty() { 0o755 } else { 0o644 };
        std::fs::set_permissions(wd.path(name), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    wd
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn threads_are_the_ones_asked_for() {
    let wd = people();
    for n in [1u64, 3] {
        let out = json(&wd.ok(&words(&format!("dedup -q --json --threads {n} --input data.csv -o out.csv"))));
        assert_eq!(out["threads"], n, "{out}");
        // The process holds its main thread and the pool, nothing more
        // (a hidden progress bar once kept a ticker thread).
        if let Some(held) = out["process_threads"].as_u64() {
            assert_eq!(held, n + 1, "{out}");
        }
    }
    let err = wd.fails(&words("dedup -q --threads 0 --input data.csv -o out.csv"), 2);
    assert!(err.contains("--threads must be at least 1"), "{err}");
}

#[test]
fn an_input_too_big_for_the_memory_stops_before_reading() {
    let wd = people();
    let err = wd.fails(&words("dedup --max-memory 100KB --input data.csv -o out.csv"), 1);
    assert!(
        err.contains("data.csv: matching") && err.contains("over the 1 MB limit (--max-memory)"),
        "{err}"
    );
    assert!(err.contains("incremental"), "says what to do: {err}");
    assert!(!wd.path("out.csv").exists());
    for command in [
        "train --config def.toml --input data.csv -o m.json",
        "evaluate --model m.json --input data.csv --labels l.csv",
        "label generate --config def.toml --input data.csv -o sets.csv",
    ] {
        let err = wd.fails(&words(&format!("{command} --max-memory 100KB")), 1);
        assert!(err.contains("data.csv: matching"), "{command}: {err}");
    }
    let out = wd.run(&words("dedup --max-memory 1XB --input data.csv -o out.csv"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'1XB' is not a size"));
    wd.ok(&words("dedup -q --max-memory 100MB --input data.csv -o out.csv"));
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn a_read_only_output_directory_fails_before_any_work() {
    let wd = people();
    std::fs::create_dir(wd.path("ro")).unwrap();
    std::fs::set_permissions(wd.path("ro"), std::fs::Permissions::from_mode(0o555)).unwrap();
    let bin = env!("CARGO_BIN_EXE_findmatches");
    let args = words("dedup --input data.csv -o ro/out.csv");
    // Root writes anywhere: run as nobody then.
    let mut command = if is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", bin]);
        c
    } else {
        Command::new(bin)
    };
    let out = command.args(&args).current_dir(wd.path("")).output().expect("run setpriv");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim(), "findmatches: error: ro/out.csv: cannot create a file in ro: permission denied");
    assert_eq!(std::fs::read_dir(wd.path("ro")).unwrap().count(), 0);
}

/// Run `script` (sh) in `wd` in a mount namespace of its own, with `$FM`
/// the binary; `None` where this machine cannot make one.
fn in_mount_namespace(wd: &Workdir, script: &str) -> Option<Output> {
    let bin = env!("CARGO_BIN_EXE_findmatches");
    for unshare in [&["-m"][..], &["-r", "-m"][..]] {
        let ok = Command::new("unshare").args(unshare).arg("true").status().is_ok_and(|s| s.success());
        if ok {
            let out = Command::new("unshare")
                .args(unshare)
                .args(["sh", "-c", script])
                .env("FM", bin)
                .current_dir(wd.path(""))
                .output()
                .expect("run unshare");
            return Some(out);
        }
    }
    eprintln!("no mount namespace here (unshare -m fails): read-only filesystem and full disk not tried");
    None
}

#[test]
fn a_read_only_filesystem_is_a_clear_error() {
    let wd = people();
    std::fs::create_dir(wd.path("rofs")).unwrap();
    let script = "mount --bind rofs rofs && mount -o remount,ro,bind rofs || exit 99
                  \"$FM\" dedup --input data.csv -o rofs/out.csv";
    let Some(out) = in_mount_namespace(&wd, script) else { return };
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err.trim(),
        "findmatches: error: rofs/out.csv: cannot create a file in rofs: read-only filesystem or storage medium"
    );
}

#[test]
fn a_full_disk_leaves_no_partial_output_and_the_baseline_as_it_was() {
    let wd = people();
    std::fs::create_dir(wd.path("disk")).unwrap();
    // A 1 MB disk: a baseline fits; then it is filled up, and an
    // incremental run's commit (its output goes elsewhere) meets a full
    // disk. Then a plain output on the full disk.
    let script = r#"
        mount -t tmpfs -o size=1m tmpfs disk || exit 99
        "$FM" dedup -q --input base.csv -o base_out.csv --baseline disk/base || exit 98
        (cd disk/base && find . -type f | sort | xargs sha256sum) > before.txt
        dd if=/dev/zero of=disk/filler bs=4k 2>/dev/null
        "$FM" incremental -q --baseline disk/base --input new.csv -o new_out.csv
        echo "incremental exit $?" >&2
        (cd disk/base && find . -type f | sort | xargs sha256sum) > after.txt
        "$FM" baseline verify -q disk/base || echo "verify failed" >&2
        "$FM" dedup -q --input data.csv -o disk/out.csv
        echo "dedup exit $?" >&2
        ls -A disk > listing.txt
    "#;
    let Some(out) = in_mount_namespace(&wd, script) else { return };
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 4, "{err}");
    assert!(
        lines[0].starts_with(
            "findmatches: error: new_out.csv is written but its records are not folded in: \
             the baseline is unchanged (generation 1); run again to fold them in: disk/base/"
        ) && lines[0].ends_with("No space left on device (os error 28)"),
        "{err}"
    );
    assert_eq!(lines[1], "incremental exit 1");
    assert_eq!(lines[2], "findmatches: error: disk/out.csv: No space left on device (os error 28)");
    assert_eq!(lines[3], "dedup exit 1");
    let before = std::fs::read_to_string(wd.path("before.txt")).unwrap();
    assert!(before.contains("manifest.json"), "{before}");
    assert_eq!(before, std::fs::read_to_string(wd.path("after.txt")).unwrap(), "the baseline changed");
    assert_eq!(std::fs::read_to_string(wd.path("listing.txt")).unwrap(), "base\nfiller\n", "left behind");
    assert!(wd.path("new_out.csv").exists(), "the output, as the message says");
}

#[test]
fn baseline_verify_finds_a_damaged_file_no_run_reads() {
    let wd = people();
    wd.ok(&words("dedup -q --input base.csv -o base_out.csv --baseline fm"));
    let said = String::from_utf8_lossy(&wd.run(&words("baseline verify fm")).stderr).into_owned();
    assert!(said.contains("match their SHA-256"), "{said}");
    let keys = std::fs::read_dir(wd.path("fm"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".members.bin"))
        .unwrap();
    let mut bytes = std::fs::read(&keys).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&keys, &bytes).unwrap();
    wd.ok(&words("baseline info fm"));
    let err = wd.fails(&words("baseline verify fm"), 1);
    assert!(err.contains(".members.bin: corrupt or unreadable: content differs"), "{err}");
    assert!(err.contains("1 of 5 files damaged"), "{err}");
}
