//! A component that imports an interface outside Wisp's world (`acme:payments/charge`): the
//! server must refuse it when the action is created, naming that import.

wit_bindgen::generate!({
    inline: r#"
        package acme:payments;

        interface charge {
            charge: func(cents: u32) -> bool;
        }

        world foreign {
            import charge;
            export handle: func(params: string) -> result<string, string>;
        }
    "#,
    world: "foreign",
});

struct Foreign;

impl Guest for Foreign {
    fn handle(_params: String) -> Result<String, String> {
        let charged = acme::payments::charge::charge(100);
        Ok(format!("{{\"charged\":{charged}}}"))
    }
}

export!(Foreign);
