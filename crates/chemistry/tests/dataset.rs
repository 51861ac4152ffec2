//! The dataset loader: a round trip, and each defect named by file, line and column.

use stiffnode_chemistry::dataset::{Dataset, Trajectory, parse};

fn species() -> Vec<String> {
    vec!["A".into(), "B".into()]
}

fn error_of(text: &str) -> String {
    let e = parse(text, "data.csv", &species()).expect_err("should be rejected");
    let msg = e.to_string();
    assert!(msg.starts_with("data.csv:"), "{msg}");
    assert_eq!(msg.lines().count(), 1, "{msg}");
    msg
}

#[test]
fn round_trip() {
    let data = Dataset {
        species: species(),
        trajectories: vec![
            Trajectory {
                times: vec![0.0, 1e-5, 0.5],
                states: vec![vec![1.0, 0.0], vec![0.9, 1e-300], vec![0.1, 2.5e7]],
            },
            Trajectory {
                times: vec![0.0, 1.0, 2.0],
                states: vec![vec![1.0, 0.3], vec![0.2, 0.1], vec![1.0 / 3.0, 0.0]],
            },
        ],
    };
    let text = data.to_csv();
    assert!(text.starts_with("trajectory,t,A,B\n0,0e0,1e0,0e0\n"), "{text}");
    assert_eq!(parse(&text, "data.csv", &species()).unwrap(), data, "numbers round-trip exactly");
}

#[test]
fn defects_are_named_by_line_and_column() {
    let ok = "trajectory,t,A,B\n0,0,1,0\n0,1,0.5,0.5\n";
    assert!(parse(ok, "data.csv", &species()).is_ok());
    // Trajectories have their own times and lengths (training needs more of them).
    let own = "trajectory,t,A,B\n0,0,1,0\n0,1,0.5,0.5\n1,0,1,0\n1,2,0.5,0.5\n1,3,0.4,0.6\n";
    let data = parse(own, "data.csv", &species()).unwrap();
    assert_eq!((data.trajectories[0].times.len(), data.trajectories[1].times.len()), (2, 3));
    let cases = [
        ("trajectory,t,A\n0,0,1\n", "data.csv:1:4: missing column 'B'"),
        ("trajectory,t,A,C\n0,0,1,0\n", "data.csv:1:4: column 'C' where 'B' is expected"),
        ("trajectory,time,A,B\n", "data.csv:1:2"),
        ("trajectory,t,A,B\n0,0,1,0\n0,2,1,0\n0,1,1,0\n", "data.csv:4:2: time 1 does not increase"),
        ("trajectory,t,A,B\n0,0,1,0\n0,0,1,0\n", "data.csv:3:2"),
        ("trajectory,t,A,B\n0,0,NaN,0\n", "data.csv:2:3: A is NaN, not a finite number"),
        ("trajectory,t,A,B\n0,0,1,inf\n", "data.csv:2:4"),
        ("trajectory,t,A,B\n0,0,1,x\n", "data.csv:2:4: B 'x' is not a number"),
        ("trajectory,t,A,B\n0,0,1\n", "data.csv:2: 3 columns"),
        ("trajectory,t,A,B\n0,0,1,0\n1,0,1,0\n0,1,1,0\n", "data.csv:4:1: trajectory 0 out of order"),
        ("", "empty file"),
        ("trajectory,t,A,B\n", "no data rows"),
    ];
    for (text, needle) in cases {
        let msg = error_of(text);
        assert!(msg.contains(needle), "'{msg}' should contain '{needle}'");
    }
}
