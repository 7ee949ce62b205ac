#!/usr/bin/env python3
"""Generate the example customer-support preference dataset in examples/support/.

Writes three files:

  pairs.jsonl     clean preference pairs (TRL "conversational" layout) for a
                  fictional online retailer, Northwind Outfitters.  The chosen
                  reply follows the support policy; the rejected reply breaks
                  exactly one rule, named in metadata.rule.  Every row carries
                  provenance (rubric, locale, reviewer, judge, timestamp); about
                  15% of the comparisons are judged a second time by another
                  reviewer (appended after the first judgments), with realistic
                  disagreement, one reviewer (rev-05) prefers longer replies, and
                  a few judgments come from an AI judge (metadata.judge = "ai").
  pairs_v2.jsonl  the next version of pairs.jsonl with a planted slice
                  regression: every row of pairs.jsonl unchanged, plus a new
                  vendor's batch of 100 refund_without_verification comparisons
                  (reviewers vnd-01..03, November 2026) with inverted labels: the
                  reply that refunds at once, without verification, is chosen.
  broken.jsonl    a small file in which every line has one deliberate defect,
                  for demonstrating the validator.

Standard library only, fixed seed, no network, no clock (the timestamps are
drawn from a fixed window, 2025-06-01 to 2026-11-15): running it twice gives
byte-identical files.

    /usr/bin/python3 tools/make_example_data.py [--out-dir DIR] [--rows N] [--seed S]
"""

import argparse
import difflib
import json
import os
import random
import sys

SOURCE = "support-sim-v1"

CATEGORIES = [
    "refunds",
    "shipping_delays",
    "account_security",
    "billing_disputes",
    "order_changes",
    "product_warranty",
    "privacy_requests",
]

RULES = [
    "refund_without_verification",
    "missing_disclosure",
    "off_brand_tone",
    "shares_personal_data",
    "invents_policy",
    "no_escalation",
]

# Word-count limits (whitespace-separated tokens).
USER_WORDS = (15, 60)
REPLY_WORDS = (25, 90)
SYSTEM_WORDS = (15, 40)
PROMPT_ASSISTANT_WORDS = (15, 60)

SPECIAL_TOKENS = ["<s>", "</s>", "[INST]", "[/INST]", "<|", "|>", "<<SYS>>",
                  "<unk>", "<pad>", "<bos>", "<eos>"]

# --------------------------------------------------------------------------
# Slot values
# --------------------------------------------------------------------------

FIRST_NAMES = [
    "Emma", "Liam", "Olivia", "Noah", "Ava", "Ethan", "Mia", "Lucas", "Sophia",
    "Mason", "Isabella", "Logan", "Amelia", "James", "Harper", "Benjamin",
    "Evelyn", "Elijah", "Abigail", "Daniel", "Grace", "Henry", "Chloe",
    "Samuel", "Nora", "Owen", "Lily", "Jack", "Hannah", "Leo", "Aria", "David",
    "Priya", "Arjun", "Mei", "Kenji", "Fatima", "Omar", "Aisha", "Tomasz",
    "Ingrid", "Sean", "Maya", "Carlos", "Lucia", "Diego", "Rosa", "Kwame",
    "Ama", "Nadia", "Ivan", "Tara", "Rahul", "Sara", "Peter", "Helen",
    "Marcus", "Julia", "Victor", "Claire",
]

LAST_NAMES = [
    "Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Wilson",
    "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Lee", "Clark", "Lewis",
    "Walker", "Hall", "Young", "King", "Wright", "Scott", "Green", "Baker",
    "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts", "Carter",
    "Patel", "Kim", "Nguyen", "Chen", "Okafor", "Mensah", "Kowalski", "Larsen",
    "O'Brien", "Murphy", "Rossi", "Silva", "Khan", "Ahmed", "Singh", "Tanaka",
    "Sato", "Novak", "Fischer", "Weber", "Evans", "Hughes", "Price", "Bennett",
    "Reyes", "Ortiz", "Foster", "Hayes", "Ward", "Brooks",
]

# (first, last, ascii form used for the e-mail local part)
NON_ASCII_NAMES = [
    ("José", "Núñez", "jose.nunez"),
    ("Zoë", "Hart", "zoe.hart"),
    ("Björn", "Åkesson", "bjorn.akesson"),
    ("Chloé", "Dubois", "chloe.dubois"),
    ("Renée", "Müller", "renee.mueller"),
    ("Søren", "Østergaard", "soren.ostergaard"),
    ("Łukasz", "Wójcik", "lukasz.wojcik"),
    ("Inés", "García", "ines.garcia"),
    ("François", "Lefèvre", "francois.lefevre"),
    ("Małgorzata", "Nowak", "malgorzata.nowak"),
    ("Jürgen", "Schäfer", "juergen.schaefer"),
    ("Siobhán", "Kelly", "siobhan.kelly"),
    ("Zoë", "Nakamura", "zoe.nakamura"),
    ("Andrés", "Peña", "andres.pena"),
    ("Léa", "Martin", "lea.martin"),
    ("Ümit", "Yılmaz", "umit.yilmaz"),
]

CITIES = [
    "Denver", "Portland", "Austin", "Seattle", "Boise", "Leeds", "Bristol",
    "Toronto", "Calgary", "Dublin", "Melbourne", "Chicago", "Phoenix",
    "Raleigh", "Omaha", "Tucson", "Madison", "Halifax", "Cardiff", "Glasgow",
    "Spokane", "Flagstaff", "Boulder", "Anchorage", "Burlington", "Reno",
    "Bend", "Asheville", "Duluth", "Missoula",
]

NON_ASCII_CITIES = [
    "Malmö", "Zürich", "Kraków", "Göteborg", "Düsseldorf", "Besançon",
    "Córdoba", "Tromsø", "Málaga", "Köln",
]

PRODUCTS = [
    "trail running shoes", "down jacket", "rain shell", "hiking backpack",
    "merino base layer", "fleece pullover", "sleeping bag", "two-person tent",
    "trekking poles", "insulated water bottle", "wool beanie", "hiking boots",
    "softshell pants", "camp chair", "daypack", "climbing harness",
    "ski gloves", "puffer vest", "waterproof duffel", "sun hoodie",
    "cycling jersey", "yoga mat", "snowshoes", "camping hammock",
    "compression socks", "approach shoes", "rain pants", "sleeping pad",
]

SAFETY_PRODUCTS = [
    "camping stove", "rechargeable headlamp", "heated vest", "USB hand warmer",
    "power bank", "propane lantern", "heated gloves", "solar charger",
    "electric camp kettle", "bike helmet", "child carrier backpack",
    "portable heater",
]

MONTHS = ["January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December"]

STREETS = ["Harbor Lane", "Maple Street", "Cedar Avenue", "Mill Road",
           "Pine Court", "Station Road", "Elm Street", "Lakeview Drive",
           "Church Street", "Birch Way", "Orchard Close", "River Road"]

# --------------------------------------------------------------------------
# Shared text pools
# --------------------------------------------------------------------------

SYSTEM_PROMPTS = [
    "You are the customer support assistant for Northwind Outfitters. Be polite, "
    "verify the order number and account email before refunds or account changes, "
    "and escalate safety or legal issues.",
    "You are a Northwind Outfitters support agent. Verify identity before sharing "
    "account details, include required disclosures, and never promise anything the "
    "policy does not allow.",
    "You answer customer messages for Northwind Outfitters, an online outdoor "
    "retailer. Stay friendly and professional, follow the refund and privacy policy, "
    "and escalate safety, fraud or legal concerns.",
    "Act as Northwind Outfitters customer support. Returns are accepted within 30 "
    "days of delivery, refunds take 5-10 business days, and account details are "
    "shared only after verification.",
    "You are the Northwind Outfitters help desk. Be courteous, confirm the "
    "customer's identity before discussing orders, and hand safety or legal issues "
    "to a specialist team.",
    "You reply on behalf of Northwind Outfitters support. Keep replies short and "
    "polite, follow the written policy exactly, and escalate anything involving "
    "injury, fraud or legal threats.",
]

SYSTEM_CHANNEL = {
    "chat": ["This is a live chat.", "You are answering a live chat.", ""],
    "email": ["You are replying to a customer email.", "This is an email reply.", ""],
}

USER_OPEN_CHAT = [
    "Hi, this is {first}.", "Hello, my name is {name}.", "Hey, {first} here.",
    "Hi there, it's {name}.", "Hello, this is {name}.", "Hi, {name} here.",
]
USER_OPEN_EMAIL = ["Hello,", "Hi support team,", "Dear Northwind Outfitters,",
                   "Hi,", "Good afternoon,", "Hello there,"]
USER_SIGN_EMAIL = ["Thanks,\n{name}", "Regards,\n{name}", "Best,\n{first}",
                   "Thank you,\n{name}", "Kind regards,\n{name}", "Cheers,\n{first}"]

ORDER_SENTENCES = [
    "My order number is {order}.", "The order number is {order}.",
    "It was order {order}.", "Order number: {order}.",
    "This is about order {order}.", "The order is {order}.",
]

USER_DETAILS = [
    "I've been a customer for years and this has never happened before.",
    "I already checked the help page but couldn't find an answer.",
    "This is the second time I'm writing about this.",
    "I'd really appreciate a quick answer.",
    "I'm honestly a bit frustrated at this point.",
    "Thanks in advance for your help.",
    "I'm travelling next week, so I'd like to get this sorted soon.",
    "My partner told me to just contact support directly.",
    "I ordered from {city}, if that matters.",
    "I've tried the website twice already today.",
]

USER2_LEADS = ["Sure.", "Okay.", "Thanks.", "Right.", "Well,", ""]

ASSISTANT_FIRST_TURN = [
    "Thanks for reaching out to Northwind Outfitters, {first}. I'm sorry to hear "
    "about {issue_noun}. Could you tell me a bit more about what you'd like us to do?",
    "Hello {first}, thank you for your message about {issue_noun}. I'd be glad to "
    "help. What outcome are you hoping for?",
    "Hi {first}, I'm sorry for the trouble with {issue_noun}. Can you tell me a "
    "little more so I can point you in the right direction?",
    "Thanks for getting in touch, {first}. I understand this is frustrating. What "
    "would you like us to do about {issue_noun}?",
    "Hi {first}, thanks for contacting Northwind Outfitters about {issue_noun}. "
    "Could you share a few more details about your request?",
]

GREET_CHAT = [
    "Hi {first}!", "Hello {first}.", "Hi {first}, thanks for reaching out.",
    "Thanks for contacting Northwind Outfitters, {first}.",
    "Hello {first}, thank you for your message.", "Hi there, {first}!",
    "Thanks for getting in touch, {first}.",
]
GREET_EMAIL = ["Dear {first},", "Hello {first},", "Dear {name},", "Hi {first},"]

EMPATHY = [
    "I'm sorry to hear about {issue_noun}.",
    "I'm sorry for the trouble with {issue_noun}.",
    "Thank you for letting us know about {issue_noun}.",
    "Thanks for reaching out about {issue_noun}.",
    "I understand this has been frustrating, and I'm sorry about {issue_noun}.",
    "I appreciate your patience regarding {issue_noun}.",
]

ESC_EMPATHY = [
    "I'm very sorry to hear about this.",
    "I'm sorry, that sounds really concerning.",
    "Thank you for telling us about this right away.",
    "I'm so sorry this happened.",
]

CLOSE_CHAT = [
    "Is there anything else I can help you with today?",
    "Thank you for shopping with Northwind Outfitters.",
    "Thanks for your patience while we sort this out.",
    "Please let me know if you have any other questions.",
    "Thank you for choosing Northwind Outfitters.",
    "We're always happy to help.",
]
CLOSE_EMAIL = [
    "Kind regards,\nNorthwind Outfitters Support",
    "Best regards,\nThe Northwind Outfitters Support Team",
    "Thank you for shopping with us,\nNorthwind Outfitters Customer Care",
    "Warm regards,\nNorthwind Outfitters Support",
]

NEUTRAL_EXTRA = [
    "I hope this helps.",
    "Thanks again for your patience.",
    "I really appreciate you bringing this to our attention.",
    "Please don't hesitate to reply if anything is unclear.",
    "We want to make sure this is sorted out properly for you.",
    "I'm here if you need anything else.",
]

CHAT_DISCLOSURES = [
    "Just so you know, this chat may be recorded for quality and training purposes.",
    "Please note that this chat may be recorded for quality purposes.",
]

# refund_without_verification -------------------------------------------------
VERIFY_GOOD_NO_ORDER = [
    "Before I can process a refund, I need to verify the order. Could you please "
    "share your order number (it starts with NW-) and the email address on your account?",
    "I'd be glad to help with the refund. First, please confirm your order number and "
    "the email address used for the purchase so I can verify it.",
    "To protect your account, I need to verify a few details before issuing any refund. "
    "Please reply with your order number and the name on the order.",
    "Could you please send me your order number and confirm the email on your account? "
    "I need to verify the order before a refund can be issued.",
]
VERIFY_GOOD_ORDER = [
    "Thanks for sharing order {order}. Before I process anything, please confirm the "
    "email address on the account so I can verify the order is yours.",
    "I've found order {order}. To verify your identity, could you please confirm the "
    "email address and the name used at checkout?",
    "Before I issue a refund for order {order}, I need to verify your identity. Please "
    "confirm the email address on the account.",
]
VERIFY_GOOD_TAIL = [
    "As soon as that's confirmed, I'll start the refund for you.",
    "Once the order is verified, I'll get the refund started right away.",
    "After I've verified the details, I'll process the refund.",
]
REFUND_BAD = [
    "No need to check anything, I've already refunded you {amount}.",
    "I've gone ahead and refunded the full {amount} to your card, no questions asked.",
    "Don't worry about the order number, the refund is already done.",
    "I've already refunded you, so there's no need to verify anything.",
    "Skip the order details, I've issued the full refund of {amount} already.",
    "No verification needed, the money is already on its way back to you.",
    "I've refunded the {amount} without checking the order, so you're all set.",
]
REFUND_BAD_TAIL = [
    "You should see it shortly.",
    "Consider it taken care of.",
    "No need to send me any details.",
    "There's nothing else you need to confirm.",
]

# shares_personal_data -----------------------------------------------------------
SHARE_GOOD = [
    "For your security, I can't share account details until we verify your identity.",
    "To keep your account safe, I'm not able to share card, address or email details {via}.",
    "I'm sorry, but I can't share personal or payment details until I've verified "
    "that you're the account holder.",
    "For privacy reasons, account details can only be shared with the verified account holder.",
]
SHARE_GOOD_NEXT = [
    "I've sent a one-time verification code to the email address on file; once you "
    "reply with it, I can help further.",
    "You can also sign in to your account, where your saved cards and addresses are "
    "listed under Account Settings.",
    "If you can confirm your order number and billing postcode, I'll verify your "
    "identity and continue.",
    "If the account belongs to someone else, they will need to contact us directly.",
]
SHARE_BAD = [
    "Sure! The card on file ends in {card4}, and the billing address is {street}, {city}.",
    "No problem, the email on the account is {leak_email} and the phone number is {phone}.",
    "Of course, here are the details: the address on the account is {street}, {city}, "
    "and the card ends in {card4}.",
    "Happy to help! The account is registered to {leak_email}, with the card ending "
    "{card4} and delivery to {street}, {city}.",
    "Here you go: the email on file is {leak_email}, the phone number is {phone}, and "
    "the saved address is {street}, {city}.",
]
SHARE_BAD_TAIL = [
    "No need to verify anything for that.",
    "Let me know if you need the rest of the account details too.",
    "I can also read you the full order history if you like.",
    "I skipped the verification step to save you time.",
]

# invents_policy -----------------------------------------------------------------
INVENT_BAD_TAIL = [
    "Consider it a special exception just for you.",
    "It's the least we can do.",
    "Our managers are always happy to do that.",
    "No need to read the policy, I've taken care of it.",
]

# no_escalation ------------------------------------------------------------------
ESC_REQUESTS = [
    "I want this passed to someone who can actually deal with it.",
    "Please escalate this to a manager.",
    "Who can I talk to about this?",
    "What are you going to do about it?",
    "I expect someone senior to look at this.",
    "Please tell me what happens next.",
]
ESCALATE_GOOD = [
    "I've escalated this to our {team} right away, and a specialist will contact you "
    "within 24 hours.",
    "This needs specialist attention, so I'm flagging it as urgent for our {team}. "
    "You'll hear from them within one business day.",
    "I'm escalating your case to our {team} now; they'll reach out to you by email "
    "within 24 hours.",
    "I've opened an urgent case with our {team}, who handle exactly this kind of "
    "issue, and they'll contact you shortly.",
]
ESCALATE_BAD = [
    "There's nothing to escalate here, so I'll close this ticket.",
    "I'm not able to pass this on to anyone else, so you'll have to sort it out yourself.",
    "That's not something we escalate, sorry.",
    "There's no team that handles that, so this is as far as it goes.",
    "I won't be forwarding this to anyone; these things usually sort themselves out.",
    "I can't escalate this, and there's no one else to talk to about it.",
]
ESC_TAIL_GOOD = {
    "safety": [
        "Please stop using the {product} and keep it away from children until our "
        "team has reviewed it.",
        "For your safety, please stop using the {product} right away and keep the packaging.",
        "If anyone was hurt, please seek medical advice first.",
    ],
    "security": [
        "In the meantime, please reset your password using the link on the sign-in page.",
        "Please also contact your bank if any payment card may be affected.",
        "We've paused new orders on the account until the team has reviewed it.",
    ],
    "legal": [
        "I've included all the details you shared, so you won't need to repeat yourself.",
        "They can review the full history of your case and respond formally.",
    ],
    "privacy": [
        "Please don't forward that information to anyone else; our team will handle it.",
        "They will investigate and explain what happened within 72 hours.",
    ],
}
ESC_TAIL_BAD = {
    "safety": [
        "It's probably fine to keep using the {product}.",
        "Just keep using it, these things happen sometimes.",
        "You can return it like any other item if you want.",
    ],
    "security": [
        "Just change your password and it should be fine.",
        "You could try contacting your bank yourself.",
    ],
    "legal": [
        "You're free to contact whoever you like.",
        "Threats like that don't change anything on our side.",
    ],
    "privacy": [
        "Just delete the email and forget about it.",
        "These things happen, so I wouldn't worry about it.",
    ],
}

# off_brand_tone -----------------------------------------------------------------
RUDE_OPEN = ["Ugh, okay.", "Okay, fine.", "Seriously?", "Wow, this again.",
             "Look, {first}.", "Right, {first}.", "Sigh.", "Hey.", "Ok, listen.",
             "Yeah, hi."]
BLAME = [
    "Honestly, you should have read the details first.",
    "This is kind of on you, not us.",
    "If you had actually checked your account, you wouldn't need to ask.",
    "Not sure what you expected, to be honest.",
    "This is literally in the FAQ, which you clearly didn't read.",
    "Maybe double-check things yourself next time.",
    "You're like the tenth person today asking this.",
    "It's not our fault you didn't pay attention.",
    "People really need to read before they click, lol.",
    "I don't know why everyone acts so surprised by this.",
]
RUDE_EXTRA = [
    "Tbh I don't get why people make such a fuss about this.",
    "We get like a hundred of these a day.",
    "I'm not going to explain it twice.",
    "It's really not that complicated.",
    "Seriously, just read the website next time.",
    "Ngl, this is kind of a waste of my time.",
    "Meh, it is what it is.",
]
RUDE_CLOSE = ["Whatever.", "Deal with it.", "Not really our problem.",
              "Take it or leave it.", "Good luck with that, lol.",
              "That's all I've got.", "Try not to mess it up next time.",
              "Anything else, or are we done here?",
              "Don't message again about this, ok?",
              "Chill, it's not a big deal."]

GENERIC_REQUESTS = [
    "Can you tell me what's going on?",
    "What happens now?",
    "Could someone please look into this for me?",
    "I'd appreciate an update when you get a chance.",
    "Can you help me sort this out?",
    "What are my options here?",
]

# --------------------------------------------------------------------------
# Category definitions
# --------------------------------------------------------------------------
# issues:        problem statements (generic)
# esc_issues:    (text, team, kind) safety/legal/fraud/privacy problems
# requests:      rule -> request sentences (missing keys fall back to generic)
# invents:       scenarios {ask, good, bad}
# good_order / good_no_order: policy-following resolutions
# rude:          off-brand versions of the resolution
# disclosures:   required disclosure sentences
# order_p:       rule -> probability that the prompt carries an order number

CAT = {}

CAT["refunds"] = dict(
    rules=RULES,
    issue_nouns=["your return", "your refund request", "the return of your {product}",
                 "your {product} return"],
    issues=[
        "I sent back the {product} on {date} and I still haven't received my refund.",
        "The {product} I bought for {amount} doesn't fit, so I want to return it.",
        "I returned a {product} almost two weeks ago and the refund still isn't showing.",
        "My {product} arrived with a broken zipper and I'd rather have my money back "
        "than a replacement.",
        "I ordered the {product} as a gift, but they already have one, so I'd like to return it.",
        "The {product} looks nothing like the photos on your site and I want to send it back.",
        "I dropped off my return for the {product} at the carrier in {city} on {date}.",
    ],
    esc_issues=[
        ("The {product} I returned gave me a rash on both arms, and my doctor says it's "
         "a reaction to the dye.", "product safety team", "safety"),
        ("I've asked for this refund four times now and I've spoken to a lawyer about "
         "taking you to small claims court.", "customer relations team", "legal"),
        ("The {product} I want to return gave my daughter a bad burn on her hand.",
         "product safety team", "safety"),
        ("Your company is still holding {amount} of mine and I'm filing a complaint with "
         "consumer protection if this isn't fixed.", "customer relations team", "legal"),
    ],
    requests={
        "refund_without_verification": [
            "Can you just refund me now? I don't have the order number with me.",
            "Please put the {amount} back on my card today, I don't want to dig up any emails.",
            "I need that money back right away, can you process it without all the paperwork?",
            "Just refund it please, I really don't have time to look up order details.",
            "Could you issue the refund right now? I'm not near my computer to find the confirmation.",
        ],
        "missing_disclosure": [
            "How does the refund work and when will I actually see the money?",
            "What are the next steps for my return?",
            "Can you tell me how the return and refund process works?",
            "What do I need to do to get my money back?",
        ],
        "shares_personal_data": [
            "I can't remember which card I used. Can you read me the full card number "
            "and billing address on my account?",
            "Which card and address are on file for me? I'm using a friend's phone so I can't log in.",
            "Can you tell me the email and phone number on my account so I know where the refund went?",
        ],
    },
    invents=[
        dict(ask=["I know it's been about three months, but can you still accept the return "
                  "and add some store credit for my trouble?",
                  "It's past the return window, but can you make an exception and refund the "
                  "full {amount} anyway?"],
             good=["Our return window is 30 days from delivery, so I'm not able to accept a "
                   "return after that, but I'm happy to check whether the {product} is "
                   "covered by our warranty.",
                   "I'm sorry, but returns are only accepted within 30 days of delivery. I "
                   "can check whether the {product} qualifies for a warranty repair instead."],
             bad=["No problem, we take returns anytime, even after a year, and I'll add a "
                  "{cur}50 store credit on top for your trouble.",
                  "Don't worry about the return window, I'm giving you a full refund and a "
                  "lifetime discount of 30 percent."]),
        dict(ask=["Can I keep the {product} and still get a full refund?",
                  "Would it be okay if I just keep the item and you refund me anyway?"],
             good=["Under our policy, a refund requires the item to be returned, so I'll "
                   "email you a prepaid return label for the {product}.",
                   "I'm not able to refund an item that isn't returned, but I can send you a "
                   "prepaid label so the return is easy."],
             bad=["Sure, keep the {product}, and I'll refund the full amount plus the "
                  "shipping as a thank you.",
                  "Of course, keep it and I'll refund you anyway, no return needed."]),
        dict(ask=["Could you refund me double since this took so long?",
                  "Since this was such a hassle, can you refund me twice the price?"],
             good=["I'm not able to refund more than the amount you paid, but I'll make sure "
                   "your refund of {amount} is processed as soon as the item is back with us.",
                   "Refunds are limited to the amount you paid, but I'll keep an eye on your "
                   "return so the {amount} refund goes out without delay."],
             bad=["Absolutely, I'll refund you twice the price since it took so long, that's "
                  "our loyalty policy.",
                  "Sure, I'll send back double the {amount} to make up for the wait."]),
    ],
    good_order=[
        "I've checked order {order}, and your return of the {product} qualifies for a full "
        "refund to your original payment method.",
        "I can see order {order} in our system, and I've started the return so your refund "
        "of {amount} can be issued once the item arrives.",
        "I've verified order {order} and emailed you a prepaid return label for the {product}.",
        "Thanks for the order number. Your return for order {order} has been approved, and "
        "the refund will go back to the card you paid with.",
    ],
    good_no_order=[
        "Could you please share your order number (it starts with NW-) so I can look up the "
        "return and check the status of your refund?",
        "To look into this, please send me your order number and the email address used for "
        "the purchase, and I'll check where the refund stands.",
    ],
    rude=[
        "Your refund is coming, it just takes time, so stop checking every day.",
        "Send the thing back and you'll get your money eventually.",
        "Refunds aren't instant, obviously, so just wait like everyone else.",
        "It's in the system or whatever, there's nothing else to do.",
    ],
    disclosures=[
        "Please note that refunds take 5-10 business days to appear on your statement once "
        "the return is received.",
        "Refunds usually take 5-10 business days to reach your original payment method "
        "after we process them.",
        "Just so you know, our return window is 30 days from delivery.",
        "Please remember that returns are accepted within 30 days of delivery.",
    ],
    order_p={"refund_without_verification": 0.3, "shares_personal_data": 0.3,
             "no_escalation": 0.5},
    products=PRODUCTS,
)

CAT["shipping_delays"] = dict(
    rules=RULES,
    issue_nouns=["the delay with your package", "your late delivery", "the shipping delay",
                 "your {product} delivery"],
    issues=[
        "My {product} was supposed to arrive on {date}, but the tracking hasn't updated in "
        "{days} days.",
        "I paid for express shipping on my {product} and it's now {days} days late.",
        "The tracking for my package says it's stuck in {city} and hasn't moved since {date}.",
        "I ordered a {product} two weeks ago for a trip and it still hasn't shipped.",
        "The carrier marked my {product} as delivered on {date}, but there's nothing at my door.",
        "My order was meant to arrive before the weekend and now the tracking just says delayed.",
    ],
    esc_issues=[
        ("The box for my {product} arrived soaked and smelling strongly of fuel, and my son "
         "got it on his hands.", "product safety team", "safety"),
        ("The package arrived crushed with broken glass sticking out, and I cut my hand "
         "opening it.", "product safety team", "safety"),
        ("Someone signed for my package using my name at an address in {city} I've never "
         "lived at, and I think it's fraud.", "fraud team", "security"),
        ("The delivery driver threatened me when I asked where my package was, and I want "
         "that taken seriously.", "customer relations team", "legal"),
    ],
    requests={
        "refund_without_verification": [
            "Can you just refund the {amount} now so I can buy it somewhere else?",
            "Please refund the shipping fee right away, I don't have the order email handy.",
            "I'd like my money back today, no need for all the back and forth.",
            "Just cancel it and refund me, I don't want to look up the order details.",
        ],
        "missing_disclosure": [
            "When will it actually arrive?",
            "What can you do to find it?",
            "Can you tell me what happens next?",
            "Is there any way to find out where it is?",
        ],
        "shares_personal_data": [
            "It's a gift for my sister and I forgot which address I used. Can you tell me "
            "the full delivery address and phone number on the order?",
            "Can you tell me the address the package is going to? It's actually my "
            "roommate's account, not mine.",
            "What email and address are on the account? I think I typed something wrong.",
        ],
    },
    invents=[
        dict(ask=["To make up for it, can you give me free overnight shipping on all my "
                  "future orders?",
                  "Can you upgrade me to free express shipping forever since this one was late?"],
             good=["I'm sorry, but I can't offer free overnight shipping on future orders. What "
                   "I can do is contact the carrier and keep you updated on this delivery.",
                   "Free express shipping on all future orders isn't something our policy "
                   "allows, but I've asked the carrier for an update on your package."],
             bad=["Absolutely, I've added free overnight shipping to your account forever.",
                  "Done! Every future order of yours now ships overnight for free, no limits."]),
        dict(ask=["Can you guarantee it will be here by {date2}? I need it for a trip.",
                  "Will you promise me it arrives by {date2}?"],
             good=["I can't guarantee a delivery date because the carrier controls the final "
                   "delivery, but I'll request a priority trace and email you as soon as it moves.",
                   "I'm not able to promise a specific date, but I've asked the carrier to "
                   "prioritise the package and I'll let you know what they say."],
             bad=["I guarantee it will be there by {date2}, and if it isn't, the whole order is free.",
                  "Yes, I promise it arrives by {date2}, or we'll refund you double."]),
        dict(ask=["Can you just send me a second {product} for free in case this one never "
                  "shows up?",
                  "Could you ship another one today and let me keep both if the first turns up?"],
             good=["I can't send a second item while the first is still in transit, but if "
                   "the carrier confirms it's lost, we'll send a replacement at no cost.",
                   "While the package is still in transit I can't ship a duplicate, but I'll "
                   "arrange a replacement as soon as the carrier confirms it's lost."],
             bad=["Sure, I'll ship you a second {product} for free right now, and you can keep both.",
                  "No problem, a free duplicate is on its way, and you can keep whichever "
                  "arrives first and the other one too."]),
    ],
    good_order=[
        "I've checked order {order}, and the carrier shows the package is still moving; "
        "I've asked them for an updated delivery estimate.",
        "I can see order {order} is with the carrier, and I've opened a trace so they can "
        "locate the package.",
        "I've looked up order {order} and requested an update from the carrier; I'll email "
        "you as soon as I hear back.",
    ],
    good_no_order=[
        "Could you please share your order number (it starts with NW-) so I can check the "
        "tracking and contact the carrier?",
        "If you send me your order number, I'll look up the tracking and ask the carrier "
        "for an update right away.",
    ],
    rude=[
        "It's in transit, it'll show up when it shows up.",
        "Tracking is right there on the website, just check it yourself.",
        "Carriers are slow, that's not something we can fix, so just wait.",
        "It's not lost, you're just impatient.",
    ],
    disclosures=[
        "Please note that carrier delivery dates are estimates and are not guaranteed.",
        "Please note that a carrier trace can take up to 5 business days to complete.",
        "Just so you know, if the package is confirmed lost, you can choose a replacement "
        "or a refund, which takes 5-10 business days.",
    ],
    order_p={"refund_without_verification": 0.3, "shares_personal_data": 0.3,
             "no_escalation": 0.5},
    products=PRODUCTS,
)

CAT["account_security"] = dict(
    rules=["missing_disclosure", "off_brand_tone", "shares_personal_data",
           "invents_policy", "no_escalation"],
    issue_nouns=["the trouble signing in", "the problem with your account access",
                 "the login issue", "the password reset trouble"],
    issues=[
        "I can't log in to my account and the password reset email never arrives.",
        "I forgot my password and now I'm locked out after too many attempts.",
        "I changed my phone and now I can't get the two-step verification code.",
        "The site says my email address isn't recognised, but I've used it for years.",
        "I keep getting a message that my account is temporarily locked.",
        "The password reset link you sent says it has expired every time I click it.",
    ],
    esc_issues=[
        ("Someone changed the email on my account and placed two orders I never made.",
         "account security team", "security"),
        ("I got an email saying my password was changed, and now there's an order going to "
         "an address in {city} I don't recognise.", "account security team", "security"),
        ("Someone called me pretending to be Northwind support and asked for my password, "
         "and I think I gave it to them.", "account security team", "security"),
    ],
    requests={
        "missing_disclosure": [
            "How do I get back into my account?",
            "What should I do to reset my password?",
            "Can you help me get access again?",
        ],
        "shares_personal_data": [
            "I don't remember which email I signed up with. Can you tell me the email and "
            "phone number on the account?",
            "What's the email address and phone number on my account? I'm on a new device.",
            "My partner set up the account, so can you tell me the login email and the "
            "card on file?",
        ],
    },
    invents=[
        dict(ask=["Can you just reset the password for me here and tell me the new one?",
                  "Could you set a new password for me right now so I can log in?"],
             good=["I can't set or share passwords, but I've sent a secure reset link to the "
                   "email address on file so you can choose a new one.",
                   "For security, passwords can only be changed through the reset link, which "
                   "I've just sent to the email on your account."],
             bad=["Sure, I've reset it for you. Your new password is {pw}, so you can log in now.",
                  "Done, I changed your password to {pw}, just use that from now on."]),
        dict(ask=["Can you turn off two-step verification so I don't need my phone anymore?",
                  "Please just disable the verification codes on my account, they're annoying."],
             good=["I'm not able to turn off two-step verification from here, but once we "
                   "verify your identity by email, our team can help you move it to your new phone.",
                   "Two-step verification can't be switched off by support, but I can help you "
                   "set it up on your new phone after verifying your identity."],
             bad=["No problem, I've switched off two-step verification on your account "
                  "permanently, so you won't need codes anymore.",
                  "Sure, verification codes are now disabled for you forever."]),
        dict(ask=["Can you change my login email to my new address without the confirmation link?",
                  "Could you switch my account email to a new one right now, no link needed?"],
             good=["Email changes need to be confirmed through a link sent to the current "
                   "address, so I can't change it directly, but I can send that link now.",
                   "I can't change the login email without the confirmation step, but I'm "
                   "happy to send the confirmation link to your current address."],
             bad=["Sure, I've changed the login email to your new address, no confirmation needed.",
                  "Done, your account now uses the new email, and I skipped the confirmation link."]),
    ],
    good_order=[],
    good_no_order=[
        "I've sent a secure password reset link to the email address on your account; please "
        "check your inbox and spam folder.",
        "Your account lock clears after 30 minutes, and then you can use the Forgot password "
        "link on the sign-in page to set a new password.",
        "Once I verify your identity, I can send a new reset link to the email on file so "
        "you can get back in.",
        "You can use the Forgot password link on the sign-in page, and the reset email "
        "should arrive within a few minutes.",
    ],
    rude=[
        "Just click forgot password like it says on the screen, it's not hard.",
        "The reset email works fine, check your spam folder, obviously.",
        "If you can't remember your own password, that's not really on us.",
        "Try again later, the lock goes away by itself.",
    ],
    disclosures=[
        "Please note that the reset link expires after 30 minutes.",
        "For your safety, Northwind Outfitters will never ask for your password by chat, "
        "email or phone.",
        "Please remember that our team will never ask you to share your password.",
    ],
    order_p={},
    order_default=0.0,
    products=PRODUCTS,
)

CAT["billing_disputes"] = dict(
    rules=RULES,
    issue_nouns=["the charge on your statement", "the billing issue",
                 "the problem with your payment", "this billing error"],
    issues=[
        "I was charged twice for my {product}, {amount} each time.",
        "There's a charge of {amount} from Northwind Outfitters on my card that I don't recognise.",
        "I cancelled my order but the {amount} charge is still on my statement.",
        "My statement shows {amount}, but the price at checkout was lower because of a discount code.",
        "You charged me for express shipping even though I picked standard.",
        "I was billed {amount} for a {product} that was out of stock and never shipped.",
    ],
    esc_issues=[
        ("There are five charges on my card from your site that I never made, and my bank "
         "says it looks like fraud.", "fraud team", "security"),
        ("My card was stolen last week and someone has been using it on your website.",
         "fraud team", "security"),
        ("If this {amount} charge isn't reversed I'm reporting your company to the consumer "
         "protection agency and my lawyer.", "customer relations team", "legal"),
    ],
    requests={
        "refund_without_verification": [
            "Can you just refund the extra charge right now?",
            "Please reverse the {amount} today, I don't have the order details with me.",
            "I want the money back on my card now, I don't have time to look anything up.",
            "Just put it back on my card please, no need to check the order.",
        ],
        "missing_disclosure": [
            "Can you explain what happened and when it will be fixed?",
            "What do I need to do to get this corrected?",
            "How long will it take to sort this out?",
        ],
        "shares_personal_data": [
            "Can you read me the full card number you charged? I have a few cards and can't "
            "tell which one.",
            "Which card and billing address did you charge? My husband may have used my account.",
            "Can you tell me the card and email on the account? I'm not sure it's even mine.",
        ],
    },
    invents=[
        dict(ask=["Can you waive the fees on all my future orders to make up for this?",
                  "Could you make all my future orders fee-free because of this mistake?"],
             good=["I'm not able to waive fees on future orders, but I've opened a billing "
                   "review to correct this charge.",
                   "Our policy doesn't allow waiving future fees, but I'll make sure this "
                   "charge is corrected through a billing review."],
             bad=["Of course, I've waived all fees on your account permanently.",
                  "Sure, you'll never pay a fee with us again, I've set that up for you."]),
        dict(ask=["Can you add a {cur}100 credit to my account for the hassle?",
                  "I think I deserve some credit for this, maybe {cur}100?"],
             good=["I'm not able to add credit for this, but I'll make sure the incorrect "
                   "amount is corrected through a billing review.",
                   "I can't add account credit, but I've flagged the incorrect charge so our "
                   "billing team can correct it."],
             bad=["Sure, I've added a {cur}100 credit to your account, plus another {cur}50 "
                  "for next time.",
                  "Done, {cur}100 in credit is on your account, and I doubled it for the trouble."]),
        dict(ask=["Can you send the money to my PayPal instead of my card?",
                  "Could you pay the refund in cash or to a different bank account?"],
             good=["Refunds can only go back to the original payment method, so the correction "
                   "will appear on the card you used.",
                   "I'm not able to send money to a different account; any correction goes "
                   "back to the original payment method."],
             bad=["No problem, I'll send the money to any account you like, cash or PayPal.",
                  "Sure, just tell me which account you want, and I'll transfer it there today."]),
    ],
    good_order=[
        "I've reviewed the billing for order {order} and opened a correction for the extra "
        "{amount} charge.",
        "I can see the charge for order {order}, and I've opened a billing review so our "
        "billing team can correct it.",
        "Thanks for the details. I've flagged the {amount} charge on order {order} for a "
        "billing review.",
    ],
    good_no_order=[
        "Could you share your order number and the date of the charge so I can look into "
        "the billing for you?",
        "If you send me your order number and the last four digits of the card that was "
        "charged, I'll check the charge right away.",
    ],
    rude=[
        "Your bank probably messed it up, not us.",
        "Charges happen, just look at your statement again more carefully.",
        "It'll fall off eventually, no need to make a big deal of it.",
        "You probably clicked the button twice, so that's on you.",
    ],
    disclosures=[
        "Please note that a billing review can take up to 5 business days.",
        "Pending authorizations usually drop off your statement within 3-5 business days.",
        "If you have also filed a chargeback with your bank, our review will pause until "
        "the bank's process is finished.",
    ],
    order_p={"refund_without_verification": 0.3, "shares_personal_data": 0.2,
             "no_escalation": 0.4},
    products=PRODUCTS,
)

CAT["order_changes"] = dict(
    rules=RULES,
    issue_nouns=["the change to your order", "your order for the {product}",
                 "the issue with your order", "your {product} order"],
    issues=[
        "I ordered the {product} in the wrong size and want to change it to a medium.",
        "I just placed an order for a {product} and realised I used my old address in {city}.",
        "I'd like to cancel my order for the {product} because I found it cheaper elsewhere.",
        "I accidentally ordered the {product} twice and only need one.",
        "I placed an order on {date} and forgot to add a second item.",
        "I picked the wrong colour for my {product} and want to switch it.",
    ],
    esc_issues=[
        ("I just read that the {product} I ordered is being recalled for a fire risk, and I "
         "want to cancel before it arrives.", "product safety team", "safety"),
        ("There's an order on my account for a {product} going to {city} that I never placed.",
         "account security team", "security"),
        ("The courier who delivered part of my order was aggressive and damaged my gate, and "
         "I want it reported.", "customer relations team", "legal"),
    ],
    requests={
        "refund_without_verification": [
            "Please cancel it and refund me right away, I don't have the confirmation email.",
            "Can you cancel it and put the {amount} back on my card now?",
            "Just cancel and refund it, I can't find the order number.",
        ],
        "missing_disclosure": [
            "Is it still possible to change it?",
            "What do I need to do?",
            "Can you make that change for me?",
            "How does that work?",
        ],
        "shares_personal_data": [
            "My wife placed the order on her account. Can you tell me which address and "
            "card she used?",
            "Can you tell me what address is on the order right now? I'm ordering for my "
            "brother and can't remember which one I used.",
            "Can you read me the email and phone number on the order so I can check them?",
        ],
    },
    invents=[
        dict(ask=["It already shipped, but can you still change the address and get it "
                  "there tomorrow?",
                  "I know it's on the truck, but can you redirect it and make sure it arrives "
                  "tomorrow?"],
             good=["Once an order has left our warehouse, I can't change the address, but you "
                   "can request a redirect through the carrier's tracking page.",
                   "Because the order has already shipped, I'm not able to change it, but the "
                   "carrier may offer a redirect from their tracking page."],
             bad=["No problem, I've changed the address even though it already shipped, and "
                  "it will still arrive tomorrow.",
                  "Sure, I've rerouted it and guaranteed next-day delivery at no charge."]),
        dict(ask=["Can you apply last week's sale price to my order even though the sale ended?",
                  "Could you give me the old sale price? I missed it by a day."],
             good=["I'm not able to apply a sale price after the sale has ended, but I can "
                   "let you know about current promotions.",
                   "Sale prices only apply during the sale, so I can't change the price, but "
                   "you're welcome to cancel before the order ships."],
             bad=["Sure, I've applied the old sale price and taken an extra 20 percent off for you.",
                  "Of course, I'll honour any past sale price you like, just tell me which one."]),
        dict(ask=["Can you hold my order for three months until I move to {city}?",
                  "Could you keep the order in your warehouse until the summer?"],
             good=["We're not able to hold orders for that long, but you could cancel now and "
                   "place a new order closer to your move.",
                   "Orders can't be held in the warehouse, but you can cancel before it ships "
                   "and order again later."],
             bad=["Of course, we'll store it for free as long as you want and ship it whenever "
                  "you ask.",
                  "Sure, I've put it on hold indefinitely, just message us whenever you're ready."]),
    ],
    good_order=[
        "I've checked order {order}, and it hasn't left our warehouse yet, so I was able to "
        "update it as you asked.",
        "I've processed your request on order {order}, and you'll receive a confirmation "
        "email shortly.",
        "Order {order} is still being prepared, so I've made the change and updated your "
        "confirmation.",
    ],
    good_no_order=[
        "Could you share your order number so I can check whether it has shipped and make "
        "the change?",
        "Please send me your order number (it starts with NW-), and I'll check whether the "
        "order can still be changed.",
    ],
    rude=[
        "You should've checked before you hit the order button.",
        "Changes are a pain, so next time order it right the first time.",
        "I'll see what I can do, but honestly this is your mistake.",
        "Fine, I'll change it, but don't expect it to go smoothly.",
    ],
    disclosures=[
        "Please note that changes are only possible before an order leaves our warehouse.",
        "If you cancel, the refund takes 5-10 business days to reach your original payment "
        "method.",
        "Please note that once an order ships, it can no longer be changed or cancelled, but "
        "it can be returned within 30 days.",
    ],
    order_p={"refund_without_verification": 0.3, "shares_personal_data": 0.3,
             "no_escalation": 0.5},
    products=PRODUCTS,
)

CAT["product_warranty"] = dict(
    rules=["refund_without_verification", "missing_disclosure", "off_brand_tone",
           "invents_policy", "no_escalation"],
    issue_nouns=["the problem with your {product}", "the issue with your {product}",
                 "the defect in your {product}", "your {product}"],
    issues=[
        "The zipper on my {product} broke after only four months.",
        "The sole of my {product} started peeling away after a few hikes.",
        "My {product} has a seam that started leaking after a month.",
        "The buckle on my {product} snapped the first time I used it.",
        "The stitching on the strap of my {product} is coming apart after two months.",
        "The fabric on my {product} is already pilling badly and I've only washed it twice.",
    ],
    esc_issues=[
        ("My {product} got extremely hot while charging and started to smoke.",
         "product safety team", "safety"),
        ("The {product} sparked when I switched it on and scorched my table.",
         "product safety team", "safety"),
        ("A strap on my {product} snapped while I was using it and I fell and hurt my wrist.",
         "product safety team", "safety"),
        ("My {product} leaked and caught fire at our campsite last weekend.",
         "product safety team", "safety"),
    ],
    requests={
        "refund_without_verification": [
            "Can you just refund me? I don't have the receipt anymore.",
            "I want my {amount} back today, no need to look up anything.",
            "Please refund it right now, I can't find the order email.",
        ],
        "missing_disclosure": [
            "Is this covered by the warranty?",
            "What are my options?",
            "How does your warranty work?",
            "Can you repair or replace it?",
        ],
    },
    invents=[
        dict(ask=["Does it come with a lifetime warranty? I want it covered even if I drop it.",
                  "Will you cover it forever, even accidental damage?"],
             good=["Our limited warranty covers manufacturing defects for one year from "
                   "delivery, so accidental damage isn't included, but I can share our paid "
                   "repair options.",
                   "The warranty covers manufacturing defects for one year; accidental damage "
                   "isn't covered, though our repair service may be able to help."],
             bad=["Yes, every Northwind product has a lifetime warranty that covers accidental "
                  "damage too.",
                  "Don't worry, all our products are guaranteed forever, even if you break them."]),
        dict(ask=["It's two years old now, can you replace it for free anyway?",
                  "I bought it ages ago, but can I still get a free replacement?"],
             good=["Our warranty covers manufacturing defects for one year, so a free "
                   "replacement isn't possible after two years, but I can tell you about our "
                   "repair service.",
                   "Since the one-year warranty has ended, I can't offer a free replacement, but "
                   "I'm happy to share our repair options."],
             bad=["No problem, I'll send you a brand new {product} for free, age doesn't matter.",
                  "Sure, we replace anything for free no matter how old it is."]),
        dict(ask=["Can you promise me the {product} is completely waterproof in any weather?",
                  "Will you guarantee it never leaks, no matter what?"],
             good=["I can't promise that it's waterproof in every condition; the product page "
                   "lists its tested water resistance rating.",
                   "I'm not able to guarantee it for every condition, but the product page shows "
                   "exactly what it was tested for."],
             bad=["Yes, I promise it's 100 percent waterproof in any weather, and if you get wet "
                  "we'll refund you.",
                  "Absolutely, it will never leak, and we'll pay you if it ever does."]),
    ],
    good_order=[
        "I've checked order {order}, and your {product} is still within the warranty period, "
        "so I've started a warranty claim for you.",
        "Thanks for the details on order {order}. This looks like a manufacturing defect, so "
        "I've opened a warranty claim and emailed you the next steps.",
        "I've looked up order {order}, and we can repair or replace the {product} under "
        "warranty once you send a photo of the issue.",
    ],
    good_no_order=[
        "Could you share your order number and a photo of the {product} so I can check the "
        "warranty and start a claim?",
        "If you send me your order number and a photo of the damage, I'll check whether the "
        "{product} is covered by the warranty.",
    ],
    rude=[
        "Stuff wears out, that's life.",
        "You probably used it wrong, to be honest.",
        "It's not a defect just because you don't like it.",
        "Read the product page, it's all there.",
    ],
    disclosures=[
        "Please note that our limited warranty covers manufacturing defects for one year from "
        "delivery and does not cover normal wear or accidental damage.",
        "Please keep your order number handy, since warranty claims require proof of purchase.",
        "Just so you know, warranty claims are reviewed within 3 business days of receiving "
        "your photos.",
    ],
    order_p={"refund_without_verification": 0.3, "no_escalation": 0.5},
    products=PRODUCTS,
)

CAT["privacy_requests"] = dict(
    rules=["missing_disclosure", "off_brand_tone", "shares_personal_data",
           "invents_policy", "no_escalation"],
    issue_nouns=["your data request", "your privacy request", "your request"],
    issues=[
        "I'd like a copy of all the personal data Northwind Outfitters holds about me.",
        "I want my account and all my personal information deleted.",
        "I keep getting marketing emails even though I unsubscribed last month.",
        "I'm closing my account and want to know what happens to my data.",
        "I'd like you to correct the date of birth and address stored on my account.",
        "I want to know which companies you share my personal information with.",
    ],
    esc_issues=[
        ("I received an order confirmation email that shows another customer's name, "
         "address and phone number.", "privacy team", "privacy"),
        ("My lawyer has advised me to file a formal complaint with the data protection "
         "authority about how you handled my data.", "Data Protection Officer", "legal"),
        ("I think your site leaked my details, because I'm getting scam texts that mention "
         "my exact Northwind order.", "privacy team", "privacy"),
    ],
    requests={
        "missing_disclosure": [
            "How long will that take?",
            "What's the process?",
            "Can you confirm this will be done?",
            "What do I need to do next?",
        ],
        "shares_personal_data": [
            "Can you email me everything on my husband's account? He's too busy to ask himself.",
            "Just read out everything you have on me here, I can't log in right now.",
            "Can you send me my mother's account details, including her address and card? "
            "I'm helping her with it.",
        ],
    },
    invents=[
        dict(ask=["Can you delete everything right now, including my invoices and order history?",
                  "Please wipe every record, invoices too, today."],
             good=["I've sent your deletion request to our privacy team; we'll delete your "
                   "account data, although invoices must be kept for tax purposes.",
                   "I can start the deletion, but invoices have to be kept for tax purposes, "
                   "so those records will remain."],
             bad=["Done, I've deleted everything right now, invoices and order history included.",
                  "Sure, every record is gone, including invoices, effective immediately."]),
        dict(ask=["Can you promise you never store any of my data at all?",
                  "Can you confirm you don't keep any information about me?"],
             good=["I can't promise that, because we need to store some data to process "
                   "orders, but our privacy policy explains what we keep and why.",
                   "We do store the data needed to handle your orders, and our privacy policy "
                   "lists exactly what we keep."],
             bad=["Of course, we never store any of your data, not even your name or address.",
                  "Yes, we keep absolutely nothing about our customers, ever."]),
        dict(ask=["Can you also remove my data from all your partners and the carrier's "
                  "systems today?",
                  "Please make sure every partner deletes my data by tonight."],
             good=["I can forward your request to our privacy team, who will notify the partners "
                   "we share data with, but I can't promise it will happen today.",
                   "Our privacy team will contact our partners about your request, although I "
                   "can't guarantee a same-day deletion."],
             bad=["Sure, I've personally wiped your data from all our partners and the carrier today.",
                  "Done, every partner has deleted your data already, I made sure of it."]),
    ],
    good_order=[],
    good_no_order=[
        "I've passed your request to our privacy team, and they'll contact you at the email "
        "on your account to confirm your identity.",
        "I've logged your request with our privacy team; they will verify your identity and "
        "then complete it.",
        "Your request has been recorded, and our privacy team will confirm your identity "
        "before they process it.",
    ],
    rude=[
        "Data requests are a hassle, but fine, I guess I'll pass it on.",
        "Just unsubscribe again, it's not that hard.",
        "Everybody has your data anyway, so I wouldn't worry about it.",
        "It'll get done when it gets done.",
    ],
    disclosures=[
        "We complete data requests within 30 days of verifying your identity.",
        "Please note that we're legally required to keep order and invoice records for tax "
        "purposes, so those cannot be deleted.",
        "Please note that requests are only processed once we've verified that you're the "
        "account holder.",
    ],
    order_p={"no_escalation": 0.2},
    order_default=0.0,
    products=PRODUCTS,
)

DEFAULT_ORDER_P = 0.75


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def nwords(text):
    return len(text.split())


def fill(template, ctx):
    return template.format(**ctx)


def join_reply(head, body, tail, email):
    body_text = " ".join(body)
    if email:
        pieces = [p for p in (head, body_text, tail) if p]
        return "\n\n".join(pieces)
    return " ".join(p for p in [head] + body + [tail] if p)


def reply_variants(spec):
    """All renderings of a reply spec, toggling its optional body parts."""
    parts = spec["parts"]
    optional = [i for i, (_, opt) in enumerate(parts) if opt]
    out = []
    for mask in range(1 << len(optional)):
        keep = set(i for j, i in enumerate(optional) if mask >> j & 1)
        body = [t for i, (t, opt) in enumerate(parts) if not opt or i in keep]
        out.append(join_reply(spec["head"], body, spec["tail"], spec["email"]))
    return out


def in_range(text, bounds):
    return bounds[0] <= nwords(text) <= bounds[1]


class Generator:
    def __init__(self, rng):
        self.rng = rng

    # -- slots -------------------------------------------------------------
    def make_ctx(self, cat, rule, channel, non_ascii):
        r = self.rng
        c = CAT[cat]
        if non_ascii:
            first, last, local = r.choice(NON_ASCII_NAMES)
            city = r.choice(NON_ASCII_CITIES) if r.random() < 0.6 else r.choice(CITIES)
            cur = "€" if r.random() < 0.5 else "$"
        else:
            first, last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
            local = (first + "." + last).lower().replace("'", "")
            city = r.choice(CITIES)
            cur = "$"
        products = SAFETY_PRODUCTS if rule == "no_escalation" and r.random() < 0.8 \
            else c["products"]
        order_p = c["order_p"].get(rule, c.get("order_default", DEFAULT_ORDER_P))
        ctx = dict(
            first=first, last=last, name=first + " " + last, city=city, cur=cur,
            product=r.choice(products),
            order="NW-%05d" % r.randint(10000, 99999),
            amount="%s%d.%s" % (cur, r.randint(18, 420), r.choice(["00", "49", "95", "99"])),
            date="%s %d" % (r.choice(MONTHS), r.randint(1, 28)),
            date2="%s %d" % (r.choice(MONTHS), r.randint(1, 28)),
            days=str(r.randint(3, 12)),
            card4="%04d" % r.randint(0, 9999),
            street="%d %s" % (r.randint(2, 980), r.choice(STREETS)),
            leak_email="%s%d@example.com" % (local, r.randint(1, 99)),
            phone="555-%03d-%04d" % (r.randint(100, 999), r.randint(0, 9999)),
            pw="%s%d!" % (r.choice(["Summer", "Welcome", "Trail", "Outdoor", "Spring"]),
                          r.randint(10, 99)),
            via="in this chat" if channel == "chat" else "by email",
            has_order=r.random() < order_p,
            multi=r.random() < 0.2,
            team="", kind="",
        )
        if rule == "no_escalation":
            text, team, kind = r.choice(c["esc_issues"])
            ctx["team"], ctx["kind"] = team, kind
        else:
            text = r.choice(c["issues"])
        ctx["issue"] = fill(text, ctx)
        # The reply may only name the product when the customer did.
        nouns = [n for n in c["issue_nouns"] if "{product}" not in n or "{product}" in text]
        if rule == "no_escalation" or not nouns:
            nouns = ["this", "this issue", "what happened"] if rule == "no_escalation" \
                else ["your request"]
        ctx["issue_noun"] = fill(r.choice(nouns), ctx)
        if rule == "no_escalation":
            ctx["request"] = r.choice(ESC_REQUESTS)
        else:
            if rule == "invents_policy":
                ctx["scenario"] = r.randrange(len(c["invents"]))
                ctx["request"] = fill(r.choice(c["invents"][ctx["scenario"]]["ask"]), ctx)
            else:
                pool = c["requests"].get(rule) or GENERIC_REQUESTS
                if rule == "off_brand_tone" and r.random() < 0.5:
                    pool = GENERIC_REQUESTS
                ctx["request"] = fill(r.choice(pool), ctx)
        return ctx

    # -- prompt ------------------------------------------------------------
    def make_prompt(self, cat, rule, channel, ctx):
        r = self.rng
        system = r.choice(SYSTEM_PROMPTS)
        suffix = r.choice(SYSTEM_CHANNEL[channel])
        if suffix:
            system = system + " " + suffix
        order_sent = fill(r.choice(ORDER_SENTENCES), ctx) if ctx["has_order"] else ""
        detail = fill(r.choice(USER_DETAILS), ctx) if r.random() < 0.35 else ""
        email = channel == "email"
        if email:
            opener = r.choice(USER_OPEN_EMAIL)
            sign = fill(r.choice(USER_SIGN_EMAIL), ctx)
            # make sure the customer's name appears when the sign-off only has first name
        else:
            opener = fill(r.choice(USER_OPEN_CHAT), ctx)
            sign = ""

        def email_wrap(open_line, body, sign_line):
            pieces = [p for p in (open_line, body, sign_line) if p]
            return "\n\n".join(pieces)

        msgs = [{"role": "system", "content": system}]
        if not ctx["multi"]:
            body = " ".join(p for p in [ctx["issue"], order_sent, detail, ctx["request"]] if p)
            if email:
                user = email_wrap(opener, body, sign)
            else:
                user = opener + " " + body
            msgs.append({"role": "user", "content": user})
        else:
            order_first = order_sent and r.random() < 0.5
            body1 = " ".join(p for p in [ctx["issue"], order_sent if order_first else ""] if p)
            if email:
                user1 = email_wrap(opener, body1, sign)
            else:
                user1 = opener + " " + body1
            assistant = fill(r.choice(ASSISTANT_FIRST_TURN), ctx)
            if email:
                assistant = assistant + "\n\n" + r.choice(CLOSE_EMAIL)
            if not detail:
                detail = fill(r.choice(USER_DETAILS), ctx)
            lead = r.choice(USER2_LEADS)
            extra = ""
            if nwords(detail + " " + ctx["request"]) < 14:
                extra = fill(r.choice([d for d in USER_DETAILS if d != detail]), ctx)
            body2 = " ".join(p for p in [lead, "" if order_first else order_sent, detail,
                                          extra, ctx["request"]] if p)
            if email:
                user2 = email_wrap("", body2, fill(r.choice(["Thanks,\n{first}", "{first}",
                                                              "Regards,\n{first}"]), ctx))
            else:
                user2 = body2
            msgs.append({"role": "user", "content": user1})
            msgs.append({"role": "assistant", "content": assistant})
            msgs.append({"role": "user", "content": user2})
        return msgs

    def prompt_ok(self, msgs):
        for m in msgs:
            if m["role"] == "system" and not in_range(m["content"], SYSTEM_WORDS):
                return False
            if m["role"] == "user" and not in_range(m["content"], USER_WORDS):
                return False
            if m["role"] == "assistant" and not in_range(m["content"], PROMPT_ASSISTANT_WORDS):
                return False
        return True

    # -- replies -----------------------------------------------------------
    def polite_frame(self, ctx, email, escalation=False):
        r = self.rng
        head = fill(r.choice(GREET_EMAIL if email else GREET_CHAT), ctx)
        tail = fill(r.choice(CLOSE_EMAIL if email else CLOSE_CHAT), ctx)
        emp_pool = ESC_EMPATHY if escalation else EMPATHY
        empathy = fill(r.choice(emp_pool), ctx)
        return head, tail, empathy

    def pick2(self, pool):
        """Two different entries when possible."""
        if len(pool) == 1:
            return pool[0], pool[0]
        a, b = self.rng.sample(pool, 2)
        return a, b

    def make_specs(self, cat, rule, channel, ctx):
        r = self.rng
        c = CAT[cat]
        email = channel == "email"
        f = lambda t: fill(t, ctx)

        disclosure_pool = list(c["disclosures"])
        if channel == "chat":
            disclosure_pool = disclosure_pool + CHAT_DISCLOSURES
        # For rules other than missing_disclosure the disclosure is either in both
        # replies or in neither, so its presence only signals on that rule.
        shared_disc = f(r.choice(disclosure_pool)) if r.random() < 0.35 else None

        ch, ct, ce = self.polite_frame(ctx, email, rule == "no_escalation")
        rh, rt, re_ = self.polite_frame(ctx, email, rule == "no_escalation")

        good_pool = c["good_order"] if ctx["has_order"] and c["good_order"] else c["good_no_order"]

        if rule == "refund_without_verification":
            pool = VERIFY_GOOD_ORDER if ctx["has_order"] else VERIFY_GOOD_NO_ORDER
            cparts = [(ce, True), (f(r.choice(pool)), False),
                      (r.choice(VERIFY_GOOD_TAIL), True)]
            rparts = [(re_, True), (f(r.choice(REFUND_BAD)), False),
                      (r.choice(REFUND_BAD_TAIL), True)]
            if shared_disc:
                cparts.append((shared_disc, False))
                rparts.append((shared_disc, False))
            cparts.append((r.choice(NEUTRAL_EXTRA), True))
            rparts.append((r.choice(NEUTRAL_EXTRA), True))
            rude = False
        elif rule == "missing_disclosure":
            g1, g2 = self.pick2(good_pool)
            disc = f(r.choice(disclosure_pool))
            cparts = [(ce, True), (f(g1), False), (disc, False), (r.choice(NEUTRAL_EXTRA), True)]
            x1, x2 = self.pick2(NEUTRAL_EXTRA)
            rparts = [(re_, True), (f(g2), False), (x1, True), (x2, True)]
            rude = False
        elif rule == "off_brand_tone":
            cparts = [(ce, True), (f(r.choice(good_pool)), False)]
            if shared_disc:
                cparts.append((shared_disc, False))
            cparts.append((r.choice(NEUTRAL_EXTRA), True))
            x1, x2 = self.pick2(RUDE_EXTRA)
            rparts = [(r.choice(BLAME), False), (f(r.choice(c["rude"])), False)]
            if shared_disc:
                rparts.append((shared_disc, False))
            rparts += [(x1, True), (x2, True)]
            rh = f(r.choice(RUDE_OPEN))
            rt = r.choice(RUDE_CLOSE)
            rude = True
        elif rule == "shares_personal_data":
            cparts = [(ce, True), (f(r.choice(SHARE_GOOD)), False),
                      (f(r.choice(SHARE_GOOD_NEXT)), False)]
            rparts = [(re_, True), (f(r.choice(SHARE_BAD)), False),
                      (r.choice(SHARE_BAD_TAIL), True)]
            if shared_disc:
                cparts.append((shared_disc, False))
                rparts.append((shared_disc, False))
            cparts.append((r.choice(NEUTRAL_EXTRA), True))
            rparts.append((r.choice(NEUTRAL_EXTRA), True))
            rude = False
        elif rule == "invents_policy":
            sc = c["invents"][ctx["scenario"]]
            cparts = [(ce, True), (f(r.choice(sc["good"])), False)]
            rparts = [(re_, True), (f(r.choice(sc["bad"])), False),
                      (r.choice(INVENT_BAD_TAIL), True)]
            if shared_disc:
                cparts.append((shared_disc, False))
                rparts.append((shared_disc, False))
            cparts.append((r.choice(NEUTRAL_EXTRA), True))
            rparts.append((r.choice(NEUTRAL_EXTRA), True))
            rude = False
        elif rule == "no_escalation":
            kind = ctx["kind"]
            cparts = [(ce, True), (f(r.choice(ESCALATE_GOOD)), False),
                      (f(r.choice(ESC_TAIL_GOOD[kind])), True)]
            rparts = [(re_, True), (f(r.choice(ESCALATE_BAD)), False),
                      (f(r.choice(ESC_TAIL_BAD[kind])), True)]
            cparts.append((r.choice(NEUTRAL_EXTRA), True))
            rparts.append((r.choice(NEUTRAL_EXTRA), True))
            rude = False
        else:
            raise ValueError(rule)

        if rude and email:
            rt = rt + "\n- Northwind Support"
        cspec = dict(head=ch, parts=cparts, tail=ct, email=email)
        rspec = dict(head=rh, parts=rparts, tail=rt, email=email)
        return cspec, rspec

    def make_replies(self, cat, rule, channel, ctx, target_chosen_longer):
        """Return (chosen, rejected) or None when no rendering fits the constraints."""
        cspec, rspec = self.make_specs(cat, rule, channel, ctx)
        cs = [t for t in reply_variants(cspec) if in_range(t, REPLY_WORDS)]
        rs = [t for t in reply_variants(rspec) if in_range(t, REPLY_WORDS)]
        pairs = [(a, b) for a in cs for b in rs
                 if a != b and (len(a) > len(b)) == target_chosen_longer]
        if not pairs:
            return None
        chosen, rejected = self.rng.choice(pairs)
        if difflib.SequenceMatcher(None, chosen, rejected).ratio() > 0.9:
            return None
        return chosen, rejected

    # -- whole row -----------------------------------------------------------
    def make_row(self, cat, rule, channel, non_ascii, target):
        for _ in range(500):
            ctx = self.make_ctx(cat, rule, channel, non_ascii)
            prompt = self.make_prompt(cat, rule, channel, ctx)
            if not self.prompt_ok(prompt):
                continue
            replies = None
            for _ in range(20):
                replies = self.make_replies(cat, rule, channel, ctx, target)
                if replies:
                    break
            if replies:
                return dict(cat=cat, rule=rule, channel=channel, ctx=ctx, prompt=prompt,
                            chosen=replies[0], rejected=replies[1])
        raise RuntimeError("could not build a row for %s/%s" % (cat, rule))

    def make_sibling(self, row, target):
        """Same prompt, a different pair of replies."""
        for _ in range(200):
            rep = self.make_replies(row["cat"], row["rule"], row["channel"], row["ctx"], target)
            if rep and rep != (row["chosen"], row["rejected"]) \
                    and rep != (row["rejected"], row["chosen"]):
                out = dict(row)
                out["chosen"], out["rejected"] = rep
                return out
        raise RuntimeError("could not build a sibling row")


def to_record(row_id, row):
    return {
        "id": row_id,
        "prompt": row["prompt"],
        "chosen": [{"role": "assistant", "content": row["chosen"]}],
        "rejected": [{"role": "assistant", "content": row["rejected"]}],
        "metadata": {"category": row["cat"], "rule": row["rule"],
                     "channel": row["channel"], "source": SOURCE},
    }


def dumps(record):
    return json.dumps(record, ensure_ascii=False)


def prompt_key(prompt):
    return json.dumps(prompt, ensure_ascii=False, sort_keys=True)


# --------------------------------------------------------------------------
# Clean dataset
# --------------------------------------------------------------------------

def build_pairs(n_rows, seed):
    rng = random.Random(seed)
    gen = Generator(rng)
    n_repeat = int(round(n_rows * 0.02))
    n_primary = n_rows - n_repeat
    non_ascii_idx = set(rng.sample(range(n_primary), int(round(n_primary * 0.03))))

    # Balanced category order: shuffled blocks of all categories.
    cats = []
    while len(cats) < n_primary:
        block = list(CATEGORIES)
        rng.shuffle(block)
        cats.extend(block)
    cats = cats[:n_primary]
    # Per-category rule cycles.
    rule_cycles = {c: [] for c in CATEGORIES}

    rows = []
    seen_prompts = set()
    for i, cat in enumerate(cats):
        if not rule_cycles[cat]:
            cyc = list(CAT[cat]["rules"])
            rng.shuffle(cyc)
            rule_cycles[cat] = cyc
        rule = rule_cycles[cat].pop()
        channel = "chat" if rng.random() < 0.6 else "email"
        target = rng.random() < 0.5
        for _ in range(100):
            row = gen.make_row(cat, rule, channel, i in non_ascii_idx, target)
            k = prompt_key(row["prompt"])
            if k not in seen_prompts:
                break
        else:
            raise RuntimeError("could not find a distinct prompt")
        seen_prompts.add(k)
        row["non_ascii"] = i in non_ascii_idx
        rows.append(row)

    # ~2% of prompts repeat with a different pair of replies, placed later on.
    originals = sorted(rng.sample(range(n_primary), n_repeat))
    inserts = []
    for idx in originals:
        sib = gen.make_sibling(rows[idx], rng.random() < 0.5)
        inserts.append((rng.randint(idx + 1, n_primary), sib))
    final = []
    by_pos = {}
    for pos, sib in inserts:
        by_pos.setdefault(pos, []).append(sib)
    for pos in range(n_primary + 1):
        for sib in by_pos.get(pos, []):
            final.append(sib)
        if pos < n_primary:
            final.append(rows[pos])
    # The loop above puts siblings for position p before row p; p > original index.
    return final


# --------------------------------------------------------------------------
# Provenance: rubric, locale, reviewer, judge, timestamp; second judgments
# --------------------------------------------------------------------------

# The rubric (guideline section) under which a rule is judged.
RUBRIC_OF_RULE = {
    "refund_without_verification": "privacy_security",
    "shares_personal_data": "privacy_security",
    "missing_disclosure": "policy_accuracy",
    "invents_policy": "policy_accuracy",
    "off_brand_tone": "tone",
    "no_escalation": "escalation",
}
LOCALES = [("en-US", 0.55), ("en-GB", 0.20), ("de-DE", 0.15), ("fr-FR", 0.10)]
HUMAN_REVIEWERS = ["rev-01", "rev-02", "rev-03", "rev-04", "rev-05", "rev-06"]
LENGTH_REVIEWER = "rev-05"  # picks the longer reply whenever it can
AI_REVIEWER = "ai-judge"
DOUBLE_SHARE = 0.15         # comparisons judged a second time
# pairs_v2.jsonl adds a new vendor's batch judged under a "customer first" misreading
# of the privacy_security rubric: the instant refund, without verification, is chosen.
REGRESSION_RULE = "refund_without_verification"
REGRESSION_ROWS = 100
REGRESSION_REVIEWERS = ["vnd-01", "vnd-02", "vnd-03"]
REGRESSION_MONTH = "2026-11"

WINDOW_START = (2025, 6, 1)   # timestamps are drawn from this window (UTC)
WINDOW_DAYS = 532             # up to 2026-11-15


def iso_time(rng):
    import datetime
    start = datetime.datetime(*WINDOW_START, tzinfo=datetime.timezone.utc)
    t = start + datetime.timedelta(seconds=rng.randrange(WINDOW_DAYS * 86400))
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def pick_weighted(rng, choices):
    x = rng.random()
    for value, weight in choices:
        x -= weight
        if x < 0:
            return value
    return choices[-1][0]


def reply_len(rec, side):
    return len(rec[side][0]["content"])


def swapped(rec):
    out = dict(rec)
    out["chosen"], out["rejected"] = rec["rejected"], rec["chosen"]
    return out


def add_provenance(records, seed):
    """Provenance for every record (a separate random stream, so the texts stay
    as before), then the second judgments appended.  Returns the new list."""
    rng = random.Random(seed + 2)
    for rec in records:
        longer = reply_len(rec, "chosen") > reply_len(rec, "rejected")
        # rev-05 is given more of the pairs whose chosen reply is the longer one.
        if rng.random() < (0.27 if longer else 0.07):
            reviewer = LENGTH_REVIEWER
        elif rng.random() < 0.01:
            reviewer = AI_REVIEWER
        else:
            reviewer = rng.choice([r for r in HUMAN_REVIEWERS if r != LENGTH_REVIEWER])
        meta = rec["metadata"]
        meta["rubric"] = RUBRIC_OF_RULE[meta["rule"]]
        meta["locale"] = pick_weighted(rng, LOCALES)
        meta["reviewer"] = reviewer
        meta["judge"] = "ai" if reviewer == AI_REVIEWER else "human"
        meta["timestamp"] = iso_time(rng)

    second = []
    for rec in rng.sample(records, int(round(DOUBLE_SHARE * len(records)))):
        first_reviewer = rec["metadata"]["reviewer"]
        pool = [r for r in HUMAN_REVIEWERS + [AI_REVIEWER] if r != first_reviewer]
        reviewer = rng.choice(pool)
        rejected_longer = reply_len(rec, "rejected") > reply_len(rec, "chosen")
        if reviewer == LENGTH_REVIEWER:
            flip = rng.random() < (0.55 if rejected_longer else 0.05)
        elif reviewer == AI_REVIEWER:
            flip = rng.random() < 0.08
        else:
            flip = rng.random() < 0.12
        twin = swapped(rec) if flip else dict(rec)
        twin["id"] = rec["id"] + "-r2"
        meta = dict(rec["metadata"])
        meta["reviewer"] = reviewer
        meta["judge"] = "ai" if reviewer == AI_REVIEWER else "human"
        meta["timestamp"] = iso_time(rng)
        twin["metadata"] = meta
        second.append(twin)
    second.sort(key=lambda r: r["id"])
    return records + second


def make_v2(records, seed, n_added=REGRESSION_ROWS):
    """pairs_v2.jsonl: every row of pairs.jsonl unchanged, then a new vendor's batch
    of n_added comparisons in REGRESSION_RULE whose labels are inverted (the reply
    that breaks the rule is the chosen one).  New ids, new prompts, November 2026
    timestamps.  Returns (rows, number added)."""
    rng = random.Random(seed + 3)
    gen = Generator(rng)
    seen = set(prompt_key(r["prompt"]) for r in records)
    cats = [c for c in CATEGORIES if REGRESSION_RULE in CAT[c]["rules"]]
    first_ids = [int(r["id"][4:9]) for r in records if not r["id"].endswith("-r2")]
    next_id = max(first_ids) + 1
    added = []
    while len(added) < n_added:
        cat = cats[len(added) % len(cats)]
        channel = "chat" if rng.random() < 0.6 else "email"
        row = gen.make_row(cat, REGRESSION_RULE, channel, False, rng.random() < 0.5)
        k = prompt_key(row["prompt"])
        if k in seen:
            continue
        seen.add(k)
        rec = swapped(to_record("sup-%05d" % next_id, row))
        next_id += 1
        meta = rec["metadata"]
        meta["rubric"] = RUBRIC_OF_RULE[REGRESSION_RULE]
        meta["locale"] = pick_weighted(rng, LOCALES)
        meta["reviewer"] = rng.choice(REGRESSION_REVIEWERS)
        meta["judge"] = "human"
        meta["timestamp"] = REGRESSION_MONTH + "-%02dT%02d:%02d:%02dZ" % (
            rng.randint(16, 30), rng.randrange(24), rng.randrange(60), rng.randrange(60))
        added.append(rec)
    return records + added, len(added)


# --------------------------------------------------------------------------
# Broken demo file
# --------------------------------------------------------------------------

BROKEN_DEFECTS = [
    ("bad-01", "not valid JSON: the object is truncated (closing brace missing)"),
    ("bad-02", "invalid UTF-8: raw bytes 0xFF 0xFE inside the user message string"),
    ("bad-03", "the `rejected` field is missing"),
    ("bad-04", "`chosen` is the number 42 instead of a message list"),
    ("bad-05", "the prompt's user message content is an empty string"),
    ("bad-06", "the chosen message content is only whitespace (\"   \\n \")"),
    ("bad-07", "the rejected message content is an empty string"),
    ("bad-08", "chosen and rejected are identical apart from surrounding whitespace"),
    ("bad-09", "the chosen message has role \"user\" instead of \"assistant\""),
    ("bad-10", "chosen and rejected differ by two characters only (near-identical)"),
    ("bad-11", "none: a clean, valid row (its line ends with CRLF, \\r\\n)"),
    ("bad-12", "exact duplicate of bad-11 (same prompt, chosen and rejected)"),
    ("bad-13", "conflicting twin of bad-11: same prompt, chosen and rejected swapped"),
    ("bad-14", "the user message contains the special-token string <|im_start|>"),
    ("bad-15", "extra field \"preference\": \"tie\""),
    ("bad-16", "extra field \"preference\": \"both_bad\""),
    ("bad-17", "none: valid row, but the file's last line has no trailing newline"),
]


def build_broken(seed):
    rng = random.Random(seed + 1)
    gen = Generator(rng)
    base = []
    for i in range(len(BROKEN_DEFECTS)):
        cat = CATEGORIES[i % len(CATEGORIES)]
        rules = CAT[cat]["rules"]
        rule = rules[i % len(rules)]
        row = gen.make_row(cat, rule, "chat" if i % 3 else "email", False, i % 2 == 0)
        base.append(to_record("bad-%02d" % (i + 1), row))

    def user_msg(rec):
        return [m for m in rec["prompt"] if m["role"] == "user"][-1]

    lines = []  # bytes, each including its line ending

    def emit(rec_or_bytes, ending=b"\n"):
        data = rec_or_bytes if isinstance(rec_or_bytes, bytes) \
            else dumps(rec_or_bytes).encode("utf-8")
        lines.append(data + ending)

    # 1. truncated JSON
    emit(dumps(base[0]).encode("utf-8")[:-1])
    # 2. invalid UTF-8 inside a string
    rec = base[1]
    marker = "@@INVALID_BYTES@@"
    user_msg(rec)["content"] = user_msg(rec)["content"].replace(" ", " " + marker + " ", 1)
    emit(dumps(rec).encode("utf-8").replace(marker.encode("ascii"), b"\xff\xfe"))
    # 3. missing rejected
    rec = base[2]
    del rec["rejected"]
    emit(rec)
    # 4. chosen is a number
    rec = base[3]
    rec["chosen"] = 42
    emit(rec)
    # 5. empty user content
    rec = base[4]
    user_msg(rec)["content"] = ""
    emit(rec)
    # 6. whitespace-only chosen
    rec = base[5]
    rec["chosen"][0]["content"] = "   \n "
    emit(rec)
    # 7. empty rejected
    rec = base[6]
    rec["rejected"][0]["content"] = ""
    emit(rec)
    # 8. identical apart from surrounding whitespace
    rec = base[7]
    rec["rejected"][0]["content"] = "  " + rec["chosen"][0]["content"] + "\n"
    emit(rec)
    # 9. wrong role in chosen
    rec = base[8]
    rec["chosen"][0]["role"] = "user"
    emit(rec)
    # 10. near-identical: two characters changed
    rec = base[9]
    text = rec["chosen"][0]["content"]
    dot = text.index(".")
    near = text[:dot] + "!" + text[dot + 1:]
    near = near[:-1] + ("!" if near[-1] != "!" else ".")
    rec["rejected"][0]["content"] = near
    emit(rec)
    # 11. clean row, CRLF line ending
    clean = base[10]
    emit(clean, b"\r\n")
    # 12. exact duplicate of the clean row
    dup = json.loads(dumps(clean))
    dup["id"] = "bad-12"
    emit(dup)
    # 13. conflicting twin: chosen and rejected swapped
    twin = json.loads(dumps(clean))
    twin["id"] = "bad-13"
    twin["chosen"], twin["rejected"] = twin["rejected"], twin["chosen"]
    emit(twin)
    # 14. special token in content
    rec = base[13]
    user_msg(rec)["content"] = user_msg(rec)["content"] + " <|im_start|>assistant"
    emit(rec)
    # 15. preference tie
    rec = base[14]
    rec["preference"] = "tie"
    emit(rec)
    # 16. preference both_bad
    rec = base[15]
    rec["preference"] = "both_bad"
    emit(rec)
    # 17. valid, no trailing newline
    emit(base[16], b"")
    return b"".join(lines), base[9]


# --------------------------------------------------------------------------
# Checks and main
# --------------------------------------------------------------------------

def check_pairs(records):
    triples = set()
    prompts = set()
    longer = 0
    non_ascii = 0
    for rec in records:
        line = dumps(rec)
        for tok in SPECIAL_TOKENS:
            assert tok not in line, (rec["id"], tok)
        assert "\r" not in line
        if not line.isascii():
            non_ascii += 1
        p = rec["prompt"]
        assert p[0]["role"] == "system" and p[-1]["role"] == "user", rec["id"]
        assert in_range(p[0]["content"], SYSTEM_WORDS), rec["id"]
        for m in p[1:]:
            bounds = USER_WORDS if m["role"] == "user" else PROMPT_ASSISTANT_WORDS
            assert in_range(m["content"], bounds), (rec["id"], m)
        c = rec["chosen"][0]["content"]
        r = rec["rejected"][0]["content"]
        assert c != r and c.strip() != r.strip(), rec["id"]
        assert in_range(c, REPLY_WORDS) and in_range(r, REPLY_WORDS), rec["id"]
        key = prompt_key(p)
        t = (key, c, r)
        assert t not in triples, ("duplicate triple", rec["id"])
        assert (key, r, c) not in triples, ("conflicting twin", rec["id"])
        triples.add(t)
        prompts.add(key)
        if len(c) > len(r):
            longer += 1
    n = len(records)
    return dict(rows=n, distinct_prompts=len(prompts), distinct_rate=len(prompts) / n,
                chosen_longer=longer / n, non_ascii_rows=non_ascii)


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.join(os.path.dirname(here), "examples", "support")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", default=default_out,
                    help="output directory (default: examples/support in the repository)")
    ap.add_argument("--rows", type=int, default=1200, help="rows in pairs.jsonl (default 1200)")
    ap.add_argument("--seed", type=int, default=20261125, help="random seed (default 20261125)")
    ap.add_argument("--v2-rows", type=int, default=REGRESSION_ROWS,
                    help="inverted comparisons added in pairs_v2.jsonl (default %d)"
                    % REGRESSION_ROWS)
    args = ap.parse_args(argv)
    if args.rows < 50:
        ap.error("--rows must be at least 50")

    rows = build_pairs(args.rows, args.seed)
    records = [to_record("sup-%05d" % (i + 1), row) for i, row in enumerate(rows)]
    stats = check_pairs(records)
    if not 0.40 <= stats["chosen_longer"] <= 0.60:
        sys.exit("chosen-longer fraction %.3f outside [0.40, 0.60]" % stats["chosen_longer"])

    records = add_provenance(records, args.seed)
    v2, added = make_v2(records, args.seed, args.v2_rows)

    os.makedirs(args.out_dir, exist_ok=True)
    data = "".join(dumps(rec) + "\n" for rec in records).encode("utf-8")
    with open(os.path.join(args.out_dir, "pairs.jsonl"), "wb") as fh:
        fh.write(data)
    data_v2 = "".join(dumps(rec) + "\n" for rec in v2).encode("utf-8")
    with open(os.path.join(args.out_dir, "pairs_v2.jsonl"), "wb") as fh:
        fh.write(data_v2)
    broken, _ = build_broken(args.seed)
    with open(os.path.join(args.out_dir, "broken.jsonl"), "wb") as fh:
        fh.write(broken)

    cat_counts = {c: 0 for c in CATEGORIES}
    rule_counts = {r: 0 for r in RULES}
    chan_counts = {"chat": 0, "email": 0}
    multi = 0
    for rec in records[:stats["rows"]]:  # the first judgments: one per comparison
        cat_counts[rec["metadata"]["category"]] += 1
        rule_counts[rec["metadata"]["rule"]] += 1
        chan_counts[rec["metadata"]["channel"]] += 1
        if len(rec["prompt"]) > 2:
            multi += 1
    n_second = sum(1 for r in records if r["id"].endswith("-r2"))
    print("pairs.jsonl: %d rows (%d comparisons + %d second judgments), %d bytes"
          % (len(records), stats["rows"], n_second, len(data)))
    print("pairs_v2.jsonl: %d rows, pairs.jsonl + %d %s comparisons with inverted labels"
          % (len(v2), added, REGRESSION_RULE))
    n_flip = sum(1 for r in records if r["id"].endswith("-r2") and
                 r["chosen"] != records[int(r["id"][4:9]) - 1]["chosen"])
    print("second judgments that disagree with the first: %d of %d" % (n_flip, n_second))
    reviewers = {}
    for rec in records:
        m = rec["metadata"]
        n, longer = reviewers.get(m["reviewer"], (0, 0))
        reviewers[m["reviewer"]] = (n + 1, longer + (reply_len(rec, "chosen") > reply_len(rec, "rejected")))
    print("reviewers: " + ", ".join("%s=%d (%.0f%% chosen longer)" % (k, n, 100.0 * l / n)
                                   for k, (n, l) in sorted(reviewers.items())))
    loc = {}
    for rec in records:
        loc[rec["metadata"]["locale"]] = loc.get(rec["metadata"]["locale"], 0) + 1
    print("locales: " + ", ".join("%s=%d" % kv for kv in sorted(loc.items())))
    print("broken.jsonl: %d lines, %d bytes" % (broken.count(b"\n") + 1, len(broken)))
    print("distinct prompts: %d (%.1f%%)" % (stats["distinct_prompts"],
                                             100 * stats["distinct_rate"]))
    print("multi-turn prompts: %d (%.1f%%)" % (multi, 100 * multi / stats["rows"]))
    print("rows with non-ASCII text: %d (%.1f%%)" % (stats["non_ascii_rows"],
                                                     100 * stats["non_ascii_rows"] / stats["rows"]))
    print("channels: " + ", ".join("%s=%d" % kv for kv in chan_counts.items()))
    print("categories: " + ", ".join("%s=%d" % kv for kv in cat_counts.items()))
    print("rules: " + ", ".join("%s=%d" % kv for kv in rule_counts.items()))
    print("chosen longer than rejected (chars): %.3f" % stats["chosen_longer"])


if __name__ == "__main__":
    main()
