//! The one integration-test binary (every file directly under tests/ would link the AWS SDK
//! again): modules by subject.

mod smoke {
    use esm_guard::sample::*;
    use esm_guard::*;

    #[test]
    fn healthy_passes_and_bare_private_fails() {
        let (s, _) = healthy_on_demand();
        let report = evaluate(&s.build());
        println!(
            "{}",
            esm_guard::report::to_text(&report, &esm_guard::plan::plan(&s.build(), &report))
        );
        let mut s = Sample::default();
        let vpc = s.vpc();
        let a = s.private_subnet(&vpc, "us-east-1a");
        let sg = s.security_group(&vpc);
        let c = s.msk_cluster(&[a], &[sg], Auth::Scram);
        s.msk_mapping(&c, false);
        let snap = s.build();
        let report = evaluate(&snap);
        let actions = esm_guard::plan::plan(&snap, &report);
        println!("{}", esm_guard::report::to_text(&report, &actions));
        println!("{}", esm_guard::report::to_json(&report, &actions));
    }
}
