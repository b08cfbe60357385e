"""A third-party SMPP client (python-smpplib) against the customer SMPP server.

Binds as transceiver, submits a long UCS-2 text split by smpplib itself (UDH parts), and waits
for the delivery receipt. Prints one JSON object: the message ids of the submit_sm_resp PDUs and
the receipt's fields. Usage: smpplib_client.py HOST PORT SYSTEM_ID PASSWORD TEXT
"""

import json
import sys
import time

import smpplib.client
import smpplib.consts
import smpplib.gsm


def main():
    host, port, system_id, password, text = sys.argv[1:6]
    client = smpplib.client.Client(host, int(port), timeout=10, allow_unknown_opt_params=True)
    sent, receipts = [], []
    client.set_message_sent_handler(lambda pdu: sent.append(pdu.message_id.decode()))
    client.set_message_received_handler(lambda pdu: receipts.append(pdu))
    client.connect()
    client.bind_transceiver(system_id=system_id, password=password)
    parts, encoding_flag, msg_type_flag = smpplib.gsm.make_parts(text)
    for part in parts:
        client.send_message(
            source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
            source_addr_npi=smpplib.consts.SMPP_NPI_UNK,
            source_addr="ACME",
            dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
            dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
            destination_addr="420777123456",
            short_message=part,
            data_coding=encoding_flag,
            esm_class=msg_type_flag,
            registered_delivery=True,
        )
    deadline = time.time() + 30
    while (not receipts or len(sent) < len(parts)) and time.time() < deadline:
        client.read_once()
    client.unbind()
    client.disconnect()
    receipt = receipts[0] if receipts else None
    print(json.dumps({
        "parts": len(parts),
        "data_coding": encoding_flag,
        "message_ids": sent,
        "receipt": None if receipt is None else {
            "esm_class": receipt.esm_class,
            "receipted_message_id": (receipt.receipted_message_id or b"").decode(),
            "short_message": receipt.short_message.decode(),
        },
    }))


if __name__ == "__main__":
    main()
