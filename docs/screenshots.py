"""Screenshots for docs/explore.md, taken with headless Chromium (Debian's) through Selenium.

    python docs/screenshots.py --model savedmodels/digits --projector logs/projector

writes docs/images/explore.png (the app's walk tab after the slider moved) and, with
--projector (a log dir of `dcgan-tf project`), docs/images/projector.png (TensorBoard's
Projector tab). `tests/test_explore.py` uses `walk_screenshot` for its browser test.
"""

import argparse
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chrome(width=1280, height=1100):
    """A headless Chromium driven by Selenium; software WebGL for the projector."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 f"--window-size={width},{height}", "--use-angle=swiftshader",
                 "--enable-unsafe-swiftshader"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def walk_screenshot(url, path, pick=None, timeout=90):
    """Opens the app, walks A -> B, moves the t slider, screenshots the page to `path`.

    Args:
        url: The app.
        path: The PNG to write.
        pick: Click the sample of this grid position first (it becomes walk A).
        timeout: Seconds to wait for each step.

    Returns:
        `(src before, src after, walk A)`: the displayed frame's source before and after the
        slider moved (they differ when the slider works), and the walk's A field.
    """
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chrome()
    wait = WebDriverWait(driver, timeout)

    def frame_src(d):
        found = d.find_elements(By.CSS_SELECTOR, "#walk-frame img")
        return found[0].get_attribute("src") if found else None

    try:
        driver.get(url)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#samples img")) >= 8)
        if pick is not None:
            driver.find_elements(By.CSS_SELECTOR, "#samples img")[pick].click()
            wait.until(lambda d: "Picked seed" in d.page_source)
        next(b for b in driver.find_elements(By.CSS_SELECTOR, "button[role='tab']")
             if "Latent walk" in b.text).click()
        next(b for b in driver.find_elements(By.TAG_NAME, "button") if b.text == "Walk").click()
        wait.until(lambda d: frame_src(d) and d.find_elements(By.CSS_SELECTOR, "#walk-strip img"))
        before = frame_src(driver)
        slider = driver.find_element(By.CSS_SELECTOR, "#walk-t input[type='range']")
        for _ in range(6):
            slider.send_keys(Keys.ARROW_RIGHT)
        wait.until(lambda d: frame_src(d) not in (None, before))
        time.sleep(0.5)  # The new frame's image finishes loading.
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        driver.save_screenshot(path)
        walk_a = driver.find_element(By.CSS_SELECTOR, "#walk-a input").get_attribute("value")
        return before, frame_src(driver), walk_a
    finally:
        driver.quit()


def projector_screenshot(logdir, path, timeout=120):
    """Serves `logdir` with TensorBoard on 127.0.0.1 and screenshots its Projector tab."""
    from selenium.webdriver.support.ui import WebDriverWait

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", logdir,
         "--port", str(port), "--host", "127.0.0.1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    driver = chrome(1400, 900)
    try:
        url = f"http://127.0.0.1:{port}/#projector"
        deadline = time.time() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
        driver.get(url)
        WebDriverWait(driver, timeout, poll_frequency=2).until(_points_drawn)
        time.sleep(5)  # The sprite thumbnails and the PCA layout settle.
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        driver.save_screenshot(path)
    finally:
        driver.quit()
        server.terminate()
        server.wait(timeout=30)


def _points_drawn(driver):
    """Whether the projector has drawn its points: the middle of the page is no longer blank
    (the projector sits in nested iframes and shadow roots, so the pixels are what is checked)."""
    import io

    import numpy as np
    from PIL import Image

    page = np.asarray(Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("L"))
    h, w = page.shape
    middle = page[h // 4:3 * h // 4, w // 3:2 * w // 3]
    return bool((middle < 100).mean() > 0.05)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="An export to open in the app (`dcgan-tf explore --model`).")
    parser.add_argument("--run", help="Its training run (the app's Run tab).")
    parser.add_argument("--projector", help="A log dir written by `dcgan-tf project`.")
    args = parser.parse_args()
    if args.model:
        sys.path.insert(0, os.path.dirname(HERE))
        from dcgan_tf.explore.app import build_app, launch
        from dcgan_tf.explore.session import ExploreConfig, Explorer

        explorer = Explorer(ExploreConfig(model=args.model, run_dir=args.run))
        demo = build_app(explorer)
        url = launch(demo, free_port(), block=False)
        try:
            before, after, _ = walk_screenshot(url, os.path.join(HERE, "images", "explore.png"), pick=3)
        finally:
            demo.close()
        print(f"explore.png: frame changed {before != after}")
    if args.projector:
        projector_screenshot(args.projector, os.path.join(HERE, "images", "projector.png"))
        print("projector.png written")


if __name__ == "__main__":
    main()
