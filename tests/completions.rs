//! `occam completions SHELL` prints a script the shell accepts and that completes the
//! subcommands.

mod common;

#[test]
fn bash_completion_script_loads_and_completes_subcommands() {
    let out = common::ok(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("occam.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    // Load the script, then ask it to complete `occam me` as bash would.
    let probe = format!(
        "source '{}'; COMP_WORDS=(occam me); COMP_CWORD=1; _occam occam me occam; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let run = std::process::Command::new("bash")
        .arg("-c")
        .arg(&probe)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let words = String::from_utf8_lossy(&run.stdout);
    assert!(words.lines().any(|w| w == "measure"), "completions of 'me': {words}");
    for shell in ["zsh", "fish"] {
        let text = String::from_utf8(common::ok(&["completions", shell]).stdout).unwrap();
        assert!(text.contains("reproduce") && text.contains("sweep"), "{shell}");
    }
    let bad = common::occam(&["completions", "tcsh"]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("tcsh"));
}
