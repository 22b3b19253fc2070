from sync.incoming.classify import GENERATED_HEADER, MAX_RECEIVED_HOPS, MessageClass, classify
from tests.unit.incoming.messages import Addr, Msg


def test_ordinary_mail_is_normal() -> None:
    assert classify(Msg()).kind is MessageClass.NORMAL


def test_delivery_report_is_a_bounce() -> None:
    assert classify(Msg(is_delivery_report=True)).kind is MessageClass.BOUNCE


def test_mailer_daemon_with_null_return_path_is_a_bounce() -> None:
    msg = Msg(from_=(Addr("", "MAILER-DAEMON@mx.example"),), return_path="<>", subject="Hi")
    assert classify(msg).kind is MessageClass.BOUNCE


def test_mailer_daemon_with_failure_subject_is_a_bounce() -> None:
    msg = Msg(from_=(Addr("", "postmaster@mx.example"),), subject="Undeliverable: Quote")
    assert classify(msg).kind is MessageClass.BOUNCE


def test_auto_submitted_is_an_auto_reply() -> None:
    assert classify(Msg(auto_submitted="auto-replied")).kind is MessageClass.AUTO_REPLY


def test_auto_submitted_no_is_normal() -> None:
    assert classify(Msg(auto_submitted="no")).kind is MessageClass.NORMAL


def test_x_autoreply_header_is_an_auto_reply() -> None:
    assert classify(Msg(selected_headers={"X-Autoreply": "yes"})).kind is MessageClass.AUTO_REPLY


def test_precedence_junk_is_an_auto_reply() -> None:
    assert classify(Msg(precedence="junk")).kind is MessageClass.AUTO_REPLY


def test_our_generated_mail_is_a_loop() -> None:
    assert classify(Msg(selected_headers={GENERATED_HEADER: "test-email"})).kind is MessageClass.LOOP


def test_too_many_hops_is_a_loop() -> None:
    assert classify(Msg(), received_hops=MAX_RECEIVED_HOPS + 1).kind is MessageClass.LOOP
